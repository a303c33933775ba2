DROP TRIGGER projects_audit_publication ON projects;
DROP FUNCTION kopa_audit_publication();
CREATE OR REPLACE FUNCTION kopa_audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id)
        SELECT TG_ARGV[0], n.id, 'create', n.version, key_id, org_id FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id)
        SELECT TG_ARGV[0], n.id, 'update', n.version, key_id, org_id FROM new_rows n;
    ELSE
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id)
        SELECT TG_ARGV[0], o.id, 'delete', NULL, key_id, org_id FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;
DROP INDEX audit_log_feed_idx;
ALTER TABLE audit_log DROP COLUMN project_id;
DROP INDEX project_funding_project_idx, metric_values_updated_idx, metric_values_project_idx,
    activities_updated_idx, activities_start_desc_idx, activities_start_asc_idx,
    organisations_updated_idx, organisations_name_idx, projects_end_desc_idx, projects_end_asc_idx,
    projects_start_desc_idx, projects_start_asc_idx, projects_title_idx, projects_updated_idx;
ALTER TABLE activities DROP COLUMN search_text;
ALTER TABLE organisations DROP COLUMN search_text;
ALTER TABLE projects DROP COLUMN search_text;
ALTER TABLE projects DROP COLUMN translations;
DROP FUNCTION kopa_words(text[]);
DROP FUNCTION kopa_fold(text);
DROP EXTENSION IF EXISTS pg_trgm;
DROP EXTENSION IF EXISTS unaccent;
