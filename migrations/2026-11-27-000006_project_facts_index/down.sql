DROP INDEX projects_facts_idx;
