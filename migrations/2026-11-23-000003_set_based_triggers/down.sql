DROP TRIGGER metric_values_revision_insert ON metric_values;
DROP TRIGGER metric_values_revision_update ON metric_values;
DROP TRIGGER metric_values_revision_delete ON metric_values;
DROP FUNCTION kopa_record_metric_revisions();
CREATE TRIGGER metric_values_revision AFTER INSERT OR UPDATE OR DELETE ON metric_values
    FOR EACH ROW EXECUTE FUNCTION kopa_record_metric_revision();

DROP TRIGGER organisations_audit_insert ON organisations;
DROP TRIGGER organisations_audit_update ON organisations;
DROP TRIGGER organisations_audit_delete ON organisations;
CREATE TRIGGER organisations_audit AFTER INSERT OR UPDATE OR DELETE ON organisations
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('organisation');

DROP TRIGGER programmes_audit_insert ON programmes;
DROP TRIGGER programmes_audit_update ON programmes;
DROP TRIGGER programmes_audit_delete ON programmes;
CREATE TRIGGER programmes_audit AFTER INSERT OR UPDATE OR DELETE ON programmes
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('programme');

DROP TRIGGER projects_audit_insert ON projects;
DROP TRIGGER projects_audit_update ON projects;
DROP TRIGGER projects_audit_delete ON projects;
CREATE TRIGGER projects_audit AFTER INSERT OR UPDATE OR DELETE ON projects
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('project');

DROP TRIGGER project_partners_audit_insert ON project_partners;
DROP TRIGGER project_partners_audit_update ON project_partners;
DROP TRIGGER project_partners_audit_delete ON project_partners;
CREATE TRIGGER project_partners_audit AFTER INSERT OR UPDATE OR DELETE ON project_partners
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('partner');

DROP TRIGGER activities_audit_insert ON activities;
DROP TRIGGER activities_audit_update ON activities;
DROP TRIGGER activities_audit_delete ON activities;
CREATE TRIGGER activities_audit AFTER INSERT OR UPDATE OR DELETE ON activities
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('activity');

DROP TRIGGER indicators_audit_insert ON indicators;
DROP TRIGGER indicators_audit_update ON indicators;
DROP TRIGGER indicators_audit_delete ON indicators;
CREATE TRIGGER indicators_audit AFTER INSERT OR UPDATE OR DELETE ON indicators
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('indicator');

DROP TRIGGER metric_values_audit_insert ON metric_values;
DROP TRIGGER metric_values_audit_update ON metric_values;
DROP TRIGGER metric_values_audit_delete ON metric_values;
CREATE TRIGGER metric_values_audit AFTER INSERT OR UPDATE OR DELETE ON metric_values
    FOR EACH ROW EXECUTE FUNCTION kopa_audit('metric');

DROP FUNCTION kopa_audit_rows();
