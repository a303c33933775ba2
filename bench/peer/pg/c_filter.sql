-- Kopa issue 14, case c: the statements Kopa sends for GET /v1/projects?target_group=&region=&status=&sort=-start_date&limit=50
-- (captured from PostgreSQL's log with log_min_duration_statement=0, see
-- bench/results/issue14/kopa-sql-captured.md); parameters come from the side tables
-- of bench/peer/pg/setup.sql through \gset, the random pick like the wrk run's.

\set n random(1, :n_filters)
SELECT tg, region, statuses, tgs, regions, ids::text AS ids FROM bench.k_filters WHERE n = :n \gset
SELECT 1;  -- the pool's check on checkout ("SELECT $1")
SELECT EXISTS (SELECT 1 FROM target_groups WHERE code = :tg) AS found;
SELECT EXISTS (SELECT 1 FROM regions WHERE code = :region) AS found;
SELECT p."id", p."reference", p."title", p."title_en", p."summary", p."aim", p."problem", p."objectives", p."status", p."status_stated_on", p."lead_organisation_id", p."programme_id", p."start_date", p."end_date", p."date_precision", p."places", p."municipalities", p."points", p."inferred", p."regions", p."target_groups", p."total_budget", p."currency", p."website", p."contact_name", p."contact_email", p."contact_phone", p."contact_role", p."source_document", p."translations", p."created_at", p."updated_at", p."version", (coalesce(p.start_date, '-infinity'::date))::text AS sort_key, p.id::text AS sort_id FROM projects p WHERE p.status <> 'draft' AND p.status = ANY(:statuses::text[]) AND (p.status NOT IN ('planned', 'active') OR p.end_date IS NULL OR p.end_date >= current_date) AND p.target_groups && :tgs::text[] AND p.regions && :regions::text[] ORDER BY (coalesce(p.start_date, '-infinity'::date)) DESC, p.id DESC LIMIT 51;
SELECT "project_funding"."project_id", "project_funding"."programme_id", "project_funding"."funder_id", "project_funding"."share_percent", "project_funding"."amount", "project_funding"."currency" FROM "project_funding" WHERE ("project_funding"."project_id" = ANY(:ids::uuid[])) ORDER BY "project_funding"."project_id", "project_funding"."position";
SELECT "source_links"."source_id", "source_links"."project_id", "source_links"."programme_id", "source_links"."organisation_id", "source_links"."metric_value_id", "source_links"."fields", "source_links"."note" FROM "source_links" WHERE ("source_links"."project_id" = ANY(:ids::uuid[])) ORDER BY "source_links"."position";
