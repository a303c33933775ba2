ALTER TABLE organisations DROP COLUMN seed_key;
ALTER TABLE programmes DROP COLUMN seed_key;
ALTER TABLE projects DROP COLUMN seed_key;
ALTER TABLE project_partners DROP COLUMN seed_key;
ALTER TABLE activities DROP COLUMN seed_key;
ALTER TABLE metric_values DROP COLUMN seed_key;
ALTER TABLE sources DROP COLUMN seed_key;
