-- Audit and revision triggers fire once per statement with transition tables instead of once
-- per row: a 10,000-item batch then writes its audit rows and revisions in two set-based
-- inserts instead of 20,000 trigger calls. What they record is unchanged.

CREATE FUNCTION kopa_audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
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

DROP TRIGGER organisations_audit ON organisations;
CREATE TRIGGER organisations_audit_insert AFTER INSERT ON organisations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('organisation');
CREATE TRIGGER organisations_audit_update AFTER UPDATE ON organisations REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('organisation');
CREATE TRIGGER organisations_audit_delete AFTER DELETE ON organisations REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('organisation');

DROP TRIGGER programmes_audit ON programmes;
CREATE TRIGGER programmes_audit_insert AFTER INSERT ON programmes REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('programme');
CREATE TRIGGER programmes_audit_update AFTER UPDATE ON programmes REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('programme');
CREATE TRIGGER programmes_audit_delete AFTER DELETE ON programmes REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('programme');

DROP TRIGGER projects_audit ON projects;
CREATE TRIGGER projects_audit_insert AFTER INSERT ON projects REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('project');
CREATE TRIGGER projects_audit_update AFTER UPDATE ON projects REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('project');
CREATE TRIGGER projects_audit_delete AFTER DELETE ON projects REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('project');

DROP TRIGGER project_partners_audit ON project_partners;
CREATE TRIGGER project_partners_audit_insert AFTER INSERT ON project_partners REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('partner');
CREATE TRIGGER project_partners_audit_update AFTER UPDATE ON project_partners REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('partner');
CREATE TRIGGER project_partners_audit_delete AFTER DELETE ON project_partners REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('partner');

DROP TRIGGER activities_audit ON activities;
CREATE TRIGGER activities_audit_insert AFTER INSERT ON activities REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('activity');
CREATE TRIGGER activities_audit_update AFTER UPDATE ON activities REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('activity');
CREATE TRIGGER activities_audit_delete AFTER DELETE ON activities REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('activity');

DROP TRIGGER indicators_audit ON indicators;
CREATE TRIGGER indicators_audit_insert AFTER INSERT ON indicators REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('indicator');
CREATE TRIGGER indicators_audit_update AFTER UPDATE ON indicators REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('indicator');
CREATE TRIGGER indicators_audit_delete AFTER DELETE ON indicators REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('indicator');

DROP TRIGGER metric_values_audit ON metric_values;
CREATE TRIGGER metric_values_audit_insert AFTER INSERT ON metric_values REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('metric');
CREATE TRIGGER metric_values_audit_update AFTER UPDATE ON metric_values REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('metric');
CREATE TRIGGER metric_values_audit_delete AFTER DELETE ON metric_values REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('metric');

CREATE FUNCTION kopa_record_metric_revisions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO metric_revisions (metric_value_id, project_id, op, version, old_value, new_value, api_key_id, organisation_id)
        SELECT n.id, n.project_id, 'create', n.version, NULL, n.value, key_id, org_id
        FROM new_rows n ORDER BY n.id;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO metric_revisions (metric_value_id, project_id, op, version, old_value, new_value, api_key_id, organisation_id)
        SELECT n.id, n.project_id, 'update', n.version, o.value, n.value, key_id, org_id
        FROM new_rows n JOIN old_rows o ON o.id = n.id ORDER BY n.id;
    ELSE
        INSERT INTO metric_revisions (metric_value_id, project_id, op, version, old_value, new_value, api_key_id, organisation_id)
        SELECT o.id, o.project_id, 'delete', o.version + 1, o.value, NULL, key_id, org_id
        FROM old_rows o ORDER BY o.id;
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER metric_values_revision ON metric_values;
CREATE TRIGGER metric_values_revision_insert AFTER INSERT ON metric_values REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_record_metric_revisions();
CREATE TRIGGER metric_values_revision_update AFTER UPDATE ON metric_values
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_record_metric_revisions();
CREATE TRIGGER metric_values_revision_delete AFTER DELETE ON metric_values REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_record_metric_revisions();
