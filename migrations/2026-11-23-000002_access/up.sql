-- API keys, idempotency records and the audit log of every write.

-- A key is `kopa_` + 40 random base64url characters. Only its SHA-256 is stored; `prefix` (the
-- first 12 characters) finds the row and identifies the key in listings. A key belongs to one
-- organisation; only an operator key (scope `admin` alone) may belong to none.
CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    organisation_id uuid REFERENCES organisations (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix text NOT NULL CHECK (length(prefix) = 12),
    secret_hash bytea NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    scopes text[] NOT NULL CHECK (
        cardinality(scopes) > 0
        AND scopes <@ ARRAY['metrics:write', 'projects:write', 'read:private', 'admin']
    ),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_organisation_required CHECK (organisation_id IS NOT NULL OR scopes = ARRAY['admin'])
);
CREATE INDEX api_keys_prefix_idx ON api_keys (prefix);
CREATE INDEX api_keys_organisation_idx ON api_keys (organisation_id, id);

-- The first response to a POST carrying `Idempotency-Key`, replayed for 24 hours. A row with
-- no `status` is in progress; `locked_until` lets another request take over if its owner died.
CREATE TABLE idempotency_records (
    principal text NOT NULL,
    key text NOT NULL,
    request_hash bytea NOT NULL,
    status smallint,
    headers jsonb,
    body bytea,
    locked_until timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_records_created_idx ON idempotency_records (created_at);

-- Every insert, update and delete of a registry record, with who made it (the API sets
-- `kopa.api_key_id` / `kopa.organisation_id` on the connection before writing) and the
-- writing transaction's id, so readers can tell which changes are certainly committed.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    resource text NOT NULL,
    record_id uuid NOT NULL,
    op text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    version integer,
    api_key_id uuid,
    organisation_id uuid,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_record_idx ON audit_log (resource, record_id, id);
CREATE INDEX audit_log_key_idx ON audit_log (api_key_id, id) WHERE api_key_id IS NOT NULL;

CREATE FUNCTION kopa_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id)
        VALUES (TG_ARGV[0], OLD.id, 'delete', NULL, key_id, org_id);
        RETURN OLD;
    END IF;
    INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id)
    VALUES (TG_ARGV[0], NEW.id, CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END,
            NEW.version, key_id, org_id);
    RETURN NEW;
END $$;

CREATE TRIGGER organisations_audit AFTER INSERT OR UPDATE OR DELETE ON organisations
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('organisation');
CREATE TRIGGER programmes_audit AFTER INSERT OR UPDATE OR DELETE ON programmes
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('programme');
CREATE TRIGGER projects_audit AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('project');
CREATE TRIGGER project_partners_audit AFTER INSERT OR UPDATE OR DELETE ON project_partners
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('partner');
CREATE TRIGGER activities_audit AFTER INSERT OR UPDATE OR DELETE ON activities
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('activity');
CREATE TRIGGER indicators_audit AFTER INSERT OR UPDATE OR DELETE ON indicators
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('indicator');
CREATE TRIGGER metric_values_audit AFTER INSERT OR UPDATE OR DELETE ON metric_values
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('metric');
