-- A partner's own keys for activities and metric values (`external_id`, unique within the
-- project), the verification state of a number, and keys that rotate themselves.

ALTER TABLE activities ADD COLUMN external_id text
    CONSTRAINT activities_external_id_check CHECK (length(external_id) BETWEEN 1 AND 100);
ALTER TABLE activities ADD CONSTRAINT activities_external_id_key UNIQUE (project_id, external_id);

ALTER TABLE metric_values ADD COLUMN external_id text
    CONSTRAINT metric_values_external_id_check CHECK (length(external_id) BETWEEN 1 AND 100);
ALTER TABLE metric_values ADD CONSTRAINT metric_values_external_id_key UNIQUE (project_id, external_id);

-- A number is public as reported; its programme's administrator (or an operator) marks it
-- verified or queried, with a note. Who and when are kept beside it and in its history.
ALTER TABLE metric_values
    ADD COLUMN verification text NOT NULL DEFAULT 'reported'
        CONSTRAINT metric_values_verification_check CHECK (verification IN ('reported', 'verified', 'queried')),
    ADD COLUMN verification_note text
        CONSTRAINT metric_values_verification_note_check CHECK (length(verification_note) <= 2000),
    ADD COLUMN verified_by uuid,
    ADD COLUMN verified_at timestamptz;
CREATE INDEX metric_values_unverified_idx ON metric_values (project_id) WHERE verification <> 'verified';

-- A changed number is a new claim: it is reported again until someone verifies it.
CREATE FUNCTION kopa_metric_reported() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.value IS DISTINCT FROM OLD.value AND NEW.verification IS NOT DISTINCT FROM OLD.verification THEN
        NEW.verification := 'reported';
        NEW.verification_note := NULL;
        NEW.verified_by := NULL;
        NEW.verified_at := NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER metric_values_reported BEFORE UPDATE ON metric_values
    FOR EACH ROW EXECUTE FUNCTION kopa_metric_reported();

-- A key that created its successor points back at it; two new scopes.
ALTER TABLE api_keys ADD COLUMN predecessor_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (
    cardinality(scopes) > 0
    AND scopes <@ ARRAY['metrics:write', 'projects:write', 'read:private', 'admin',
                        'webhooks:manage', 'metrics:verify']
);
