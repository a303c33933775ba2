-- The audit log keeps what changed, not only who and when: `changes` holds the old and new
-- value of every changed field ({"title": {"old": ..., "new": ...}}), and `event` says what a
-- change was when it was more than an edit (a project published or moved back to draft, a
-- value restored or verified, a contact erased). Funding lines and API keys are audited too.

ALTER TABLE audit_log ADD COLUMN changes jsonb, ADD COLUMN event text;

-- The fields that differ between two rows as JSON (either may be null: a create or a delete).
-- Bookkeeping and derived columns are not history; neither are key secrets or last use.
CREATE FUNCTION kopa_audit_diff(old_row jsonb, new_row jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT coalesce(jsonb_object_agg(k, jsonb_build_object(
               'old', coalesce(old_row -> k, 'null'), 'new', coalesce(new_row -> k, 'null'))), '{}')
    FROM (SELECT jsonb_object_keys(coalesce(old_row, '{}') || coalesce(new_row, '{}')) AS k) keys
    WHERE k NOT IN ('id', 'created_at', 'updated_at', 'version', 'search_text', 'search_vector',
                    'secret_hash', 'last_used_at', 'prefix', 'seed_key', 'org_id')
      AND coalesce(old_row -> k, 'null') IS DISTINCT FROM coalesce(new_row -> k, 'null')
);

-- What an erased contact leaves in a history entry: that it was there, not what it was.
CREATE FUNCTION kopa_erase_contact(changes jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT coalesce(jsonb_object_agg(k, CASE WHEN k LIKE 'contact\_%'
               THEN '{"old": null, "new": null, "erased": true}'::jsonb ELSE v END), '{}')
    FROM jsonb_each(changes) AS e(k, v)
);

CREATE OR REPLACE FUNCTION kopa_audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
    said_event text := nullif(current_setting('kopa.audit_event', true), '');
    in_project boolean := TG_TABLE_NAME IN ('project_partners', 'activities', 'metric_values', 'project_funding');
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id, changes, event)
        SELECT TG_ARGV[0], n.id, 'create', (to_jsonb(n) ->> 'version')::int, key_id, org_id,
               CASE WHEN TG_TABLE_NAME = 'projects' THEN n.id
                    WHEN in_project THEN (to_jsonb(n) ->> 'project_id')::uuid END,
               kopa_audit_diff(NULL, to_jsonb(n)), said_event
        FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id, changes, event)
        SELECT TG_ARGV[0], n.id, 'update', (to_jsonb(n) ->> 'version')::int, key_id, org_id,
               CASE WHEN TG_TABLE_NAME = 'projects' THEN n.id
                    WHEN in_project THEN (to_jsonb(n) ->> 'project_id')::uuid END,
               d.changes,
               CASE WHEN TG_TABLE_NAME = 'projects' AND (to_jsonb(o) ->> 'status') = 'draft'
                         AND (to_jsonb(n) ->> 'status') <> 'draft' THEN 'published'
                    WHEN TG_TABLE_NAME = 'projects' AND (to_jsonb(o) ->> 'status') <> 'draft'
                         AND (to_jsonb(n) ->> 'status') = 'draft' THEN 'withdrawn'
                    ELSE said_event END
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        CROSS JOIN LATERAL (SELECT kopa_audit_diff(to_jsonb(o), to_jsonb(n)) AS changes) d
        -- A key's use is no change of the key.
        WHERE TG_TABLE_NAME <> 'api_keys' OR d.changes <> '{}';
    ELSE
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id, changes, event)
        SELECT TG_ARGV[0], o.id, 'delete', NULL, key_id, org_id,
               CASE WHEN TG_TABLE_NAME = 'projects' THEN o.id
                    WHEN in_project THEN (to_jsonb(o) ->> 'project_id')::uuid END,
               kopa_audit_diff(to_jsonb(o), NULL), said_event
        FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

-- A project's move into or out of draft, logged for its parts, says so.
CREATE OR REPLACE FUNCTION kopa_audit_publication() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
BEGIN
    WITH flipped AS (
        SELECT n.id, CASE WHEN n.status = 'draft' THEN 'withdrawn' ELSE 'published' END AS event
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status = 'draft') <> (o.status = 'draft')
    )
    INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id, changes, event)
    SELECT c.resource, c.id, 'update', c.version, key_id, org_id, c.project_id, '{}', c.event
    FROM (
        SELECT 'partner' AS resource, p.id, p.version, p.project_id, f.event FROM project_partners p JOIN flipped f ON f.id = p.project_id
        UNION ALL
        SELECT 'activity', a.id, a.version, a.project_id, f.event FROM activities a JOIN flipped f ON f.id = a.project_id
        UNION ALL
        SELECT 'metric', m.id, m.version, m.project_id, f.event FROM metric_values m JOIN flipped f ON f.id = m.project_id
    ) c;
    RETURN NULL;
END $$;

-- Update triggers now see the old rows too.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('organisations', 'organisation'), ('programmes', 'programme'), ('projects', 'project'),
        ('project_partners', 'partner'), ('activities', 'activity'), ('indicators', 'indicator'),
        ('metric_values', 'metric'), ('sources', 'source')) AS v(tbl, resource)
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t.tbl || '_audit_update', t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows(%L)', t.tbl || '_audit_update', t.tbl, t.resource);
    END LOOP;
    FOR t IN SELECT * FROM (VALUES ('project_funding', 'funding'), ('api_keys', 'api_key')) AS v(tbl, resource)
    LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows(%L)', t.tbl || '_audit_insert', t.tbl, t.resource);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows(%L)', t.tbl || '_audit_update', t.tbl, t.resource);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows '
                       'FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows(%L)', t.tbl || '_audit_delete', t.tbl, t.resource);
    END LOOP;
END $$;
