-- The day a project's status was stated by its source: a status read from a 2013 page is what
-- that page said then, not a claim about today.
ALTER TABLE projects ADD COLUMN status_stated_on date;
