DROP INDEX activities_municipalities_idx, projects_municipalities_idx;
ALTER TABLE activities DROP COLUMN points, DROP COLUMN municipalities;
ALTER TABLE projects DROP COLUMN points, DROP COLUMN municipalities;
DROP FUNCTION kopa_today_territory(text);
DROP TABLE territories;
ALTER TABLE regions DROP COLUMN nuts3_2024, DROP COLUMN nuts3;
