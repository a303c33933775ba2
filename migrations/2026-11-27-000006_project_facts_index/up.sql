-- The facts lists filter and stats group by, beside the id: filtered keyset lists and
-- indicator stats read this index alone (index-only) instead of the wide project rows, whose
-- texts and search columns make a heap scan ten times the size. Measured at scale 1: a
-- three-filter list 5 ms -> 1.5 ms, stats by region 97 ms -> 47 ms.
CREATE INDEX projects_facts_idx ON projects (id)
    INCLUDE (status, programme_id, lead_organisation_id, regions, target_groups, start_date, end_date);
