DROP INDEX organisations_org_id_idx;
ALTER TABLE organisations DROP COLUMN org_id;
CREATE OR REPLACE FUNCTION kopa_audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
    in_project boolean := TG_TABLE_NAME IN ('project_partners', 'activities', 'metric_values');
BEGIN
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id)
        SELECT TG_ARGV[0], n.id, CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END,
               n.version, key_id, org_id,
               CASE WHEN TG_TABLE_NAME = 'projects' THEN n.id
                    WHEN in_project THEN (to_jsonb(n) ->> 'project_id')::uuid END
        FROM new_rows n;
    ELSE
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id)
        SELECT TG_ARGV[0], o.id, 'delete', NULL, key_id, org_id,
               CASE WHEN TG_TABLE_NAME = 'projects' THEN o.id
                    WHEN in_project THEN (to_jsonb(o) ->> 'project_id')::uuid END
        FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;
ALTER TABLE activities DROP COLUMN inferred;
ALTER TABLE metric_values DROP COLUMN inferred;
ALTER TABLE organisations DROP COLUMN inferred;
ALTER TABLE programmes DROP COLUMN inferred;
ALTER TABLE projects DROP COLUMN contact_role, DROP COLUMN inferred;
DROP TABLE source_links;
DROP TABLE sources;
