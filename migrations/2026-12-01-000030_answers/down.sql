DROP TRIGGER units_notify ON units;
DROP TRIGGER activity_kinds_notify ON activity_kinds;
DROP TRIGGER regions_notify ON regions;
DROP TRIGGER target_groups_notify ON target_groups;
DROP TRIGGER partner_roles_notify ON partner_roles;
DROP TRIGGER organisation_kinds_notify ON organisation_kinds;
DROP TRIGGER audit_log_notify ON audit_log;
DROP FUNCTION kopa_notify_change();
DROP TRIGGER metric_values_rollups_delete ON metric_values;
DROP TRIGGER metric_values_rollups_update ON metric_values;
DROP TRIGGER metric_values_rollups_insert ON metric_values;
DROP FUNCTION kopa_metric_rollups();
DROP FUNCTION kopa_refresh_rollups(jsonb);
DROP TABLE metric_rollups;
ALTER TABLE indicators DROP CONSTRAINT indicators_counts_towards_check,
    DROP COLUMN relation, DROP COLUMN counts_towards;
