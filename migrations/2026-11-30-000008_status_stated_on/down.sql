ALTER TABLE projects DROP COLUMN status_stated_on;
