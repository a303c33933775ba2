-- Code lists (regions, target groups) are checked against their vocabulary tables by CHECK
-- constraints that look the codes up (kopa_codes_exist). pg_dump writes a valid CHECK
-- constraint into its table's CREATE TABLE, before any data, and loads the tables' data in
-- name order, so pg_restore loaded activities and projects before regions and target_groups
-- and refused their rows: a dump of the registry could not be restored (PostgreSQL's manual
-- warns about CHECKs that look at other tables for this reason). A NOT VALID constraint is
-- dumped on its own, after the data, and is not run over the restored rows; every insert and
-- update is still checked exactly as before, under the same names (src/web/error.rs maps them).
-- Do not VALIDATE these constraints: that would put them back before the data in a dump
-- (tests/backup.rs restores a dump and fails if a plain pg_restore stops working). IF EXISTS:
-- a dump taken before this migration is restored with the three dropped while its data loads
-- (README, Operations), and this migration then adds them back.
ALTER TABLE projects
    DROP CONSTRAINT IF EXISTS projects_regions_check,
    ADD CONSTRAINT projects_regions_check
        CHECK (kopa_codes_exist('regions', regions)) NOT VALID,
    DROP CONSTRAINT IF EXISTS projects_target_groups_check,
    ADD CONSTRAINT projects_target_groups_check
        CHECK (kopa_codes_exist('target_groups', target_groups)) NOT VALID;
ALTER TABLE activities
    DROP CONSTRAINT IF EXISTS activities_target_groups_check,
    ADD CONSTRAINT activities_target_groups_check
        CHECK (kopa_codes_exist('target_groups', target_groups)) NOT VALID;
