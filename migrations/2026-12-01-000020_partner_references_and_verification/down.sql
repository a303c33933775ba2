DELETE FROM api_keys WHERE scopes && ARRAY['webhooks:manage', 'metrics:verify'];
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_check CHECK (
    cardinality(scopes) > 0
    AND scopes <@ ARRAY['metrics:write', 'projects:write', 'read:private', 'admin']
);
ALTER TABLE api_keys DROP COLUMN predecessor_id;
DROP TRIGGER metric_values_reported ON metric_values;
DROP FUNCTION kopa_metric_reported();
DROP INDEX metric_values_unverified_idx;
ALTER TABLE metric_values DROP COLUMN verification, DROP COLUMN verification_note,
    DROP COLUMN verified_by, DROP COLUMN verified_at;
ALTER TABLE metric_values DROP CONSTRAINT metric_values_external_id_key;
ALTER TABLE metric_values DROP COLUMN external_id;
ALTER TABLE activities DROP CONSTRAINT activities_external_id_key;
ALTER TABLE activities DROP COLUMN external_id;
