ALTER TABLE metric_values DROP COLUMN qualifier;
