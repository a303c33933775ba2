-- Kopa issue 14, case i: the statements Kopa sends for GET /v1/stats/funding?group_by=programme
-- (captured from PostgreSQL's log with log_min_duration_statement=0, see
-- bench/results/issue14/kopa-sql-captured.md); parameters come from the side tables
-- of bench/peer/pg/setup.sql through \gset, the random pick like the wrk run's.

SELECT ('{' || string_agg(id::text, ',') || '}') AS progs FROM programmes \gset
SELECT 1;  -- the pool's check on checkout ("SELECT $1")
SELECT key, currency, sum(amount)::text AS amount, count(DISTINCT project_id) AS projects, count(*) AS lines, count(*) FILTER (WHERE amount IS NULL) AS unpriced, GROUPING(currency) AS whole FROM (SELECT l.programme_id::text AS key, l.project_id, l.id, l.amount, l.currency FROM project_funding l JOIN projects p ON p.id = l.project_id LEFT JOIN programmes g ON g.id = l.programme_id WHERE p.status <> 'draft') l GROUP BY GROUPING SETS ((key, currency), (key)) ORDER BY key NULLS LAST, currency;
SELECT key, currency, sum(amount)::text AS amount, count(DISTINCT project_id) AS projects, count(*) AS lines, count(*) FILTER (WHERE amount IS NULL) AS unpriced, GROUPING(currency) AS whole FROM (SELECT NULL::text AS key, l.project_id, l.id, l.amount, l.currency FROM project_funding l JOIN projects p ON p.id = l.project_id LEFT JOIN programmes g ON g.id = l.programme_id WHERE p.status <> 'draft') l GROUP BY GROUPING SETS ((key, currency), (key)) ORDER BY key NULLS LAST, currency;
SELECT "programmes"."id", "programmes"."name" FROM "programmes" WHERE ("programmes"."id" = ANY(:progs::uuid[]));
