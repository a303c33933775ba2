-- Stable keys of the records the seed files hold, so `kopa seed` finds a record again after its
-- name, title or natural key changed (renames and merges apply in place, nothing is left behind
-- twice). Records created through the API have none. A new seed record starts with its key
-- (the loader sets `kopa.seed_key` for the transaction), so keying it is no change of its own.
ALTER TABLE organisations ADD COLUMN seed_key text DEFAULT nullif(current_setting('kopa.seed_key', true), '');
ALTER TABLE programmes ADD COLUMN seed_key text DEFAULT nullif(current_setting('kopa.seed_key', true), '');
ALTER TABLE projects ADD COLUMN seed_key text DEFAULT nullif(current_setting('kopa.seed_key', true), '');
ALTER TABLE project_partners ADD COLUMN seed_key text DEFAULT nullif(current_setting('kopa.seed_key', true), '');
ALTER TABLE activities ADD COLUMN seed_key text DEFAULT nullif(current_setting('kopa.seed_key', true), '');
ALTER TABLE metric_values ADD COLUMN seed_key text DEFAULT nullif(current_setting('kopa.seed_key', true), '');
ALTER TABLE sources ADD COLUMN seed_key text DEFAULT nullif(current_setting('kopa.seed_key', true), '');
CREATE UNIQUE INDEX organisations_seed_key ON organisations (seed_key);
CREATE UNIQUE INDEX programmes_seed_key ON programmes (seed_key);
CREATE UNIQUE INDEX projects_seed_key ON projects (seed_key);
CREATE UNIQUE INDEX project_partners_seed_key ON project_partners (seed_key);
CREATE UNIQUE INDEX activities_seed_key ON activities (seed_key);
CREATE UNIQUE INDEX metric_values_seed_key ON metric_values (seed_key);
CREATE UNIQUE INDEX sources_seed_key ON sources (seed_key);
