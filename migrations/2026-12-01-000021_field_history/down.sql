DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('project_funding'), ('api_keys')) AS v(tbl)
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_audit_insert', t.tbl);
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_audit_update', t.tbl);
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_audit_delete', t.tbl);
    END LOOP;
    FOR t IN SELECT * FROM (VALUES
        ('organisations', 'organisation'), ('programmes', 'programme'), ('projects', 'project'),
        ('project_partners', 'partner'), ('activities', 'activity'), ('indicators', 'indicator'),
        ('metric_values', 'metric'), ('sources', 'source')) AS v(tbl, resource)
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_audit_update', t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows(%L)', t.tbl || '_audit_update', t.tbl, t.resource);
    END LOOP;
END $$;
DELETE FROM audit_log WHERE resource IN ('funding', 'api_key');

CREATE OR REPLACE FUNCTION kopa_audit_publication() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
BEGIN
    WITH flipped AS (
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status = 'draft') <> (o.status = 'draft')
    )
    INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id)
    SELECT c.resource, c.id, 'update', c.version, key_id, org_id, c.project_id
    FROM (
        SELECT 'partner' AS resource, p.id, p.version, p.project_id FROM project_partners p JOIN flipped f ON f.id = p.project_id
        UNION ALL
        SELECT 'activity', a.id, a.version, a.project_id FROM activities a JOIN flipped f ON f.id = a.project_id
        UNION ALL
        SELECT 'metric', m.id, m.version, m.project_id FROM metric_values m JOIN flipped f ON f.id = m.project_id
    ) c;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION kopa_audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
#variable_conflict use_variable
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
DROP FUNCTION kopa_erase_contact(jsonb);
DROP FUNCTION kopa_audit_diff(jsonb, jsonb);
ALTER TABLE audit_log DROP COLUMN changes, DROP COLUMN event;
