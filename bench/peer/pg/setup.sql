-- Side tables for the Kopa pgbench scripts (issue 14), in schema bench of Kopa's database.
-- Run after the harness's lib/pg_limit.py parameter tables (bench.p_ids, p_filters, p_words,
-- p_programmes, from the Kopa-mapped bench_params.json) exist; bench/peer/run_pgbench.sh does
-- both. Each row holds the parameters Kopa binds for one pick, including the ids of the page
-- its follow-up queries (funding lines, sources) ask about, computed with Kopa's own list SQL.
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench.k_list, bench.k_ids, bench.k_filters, bench.k_words, bench.k_ind;
CREATE TABLE bench.k_list AS
  SELECT array_agg(id) AS ids FROM (SELECT p.id FROM projects p WHERE p.status <> 'draft'
    ORDER BY coalesce(p.start_date, '-infinity'::date) DESC, p.id DESC LIMIT 50) s;
CREATE TABLE bench.k_ids AS
  SELECT i.n, i.id, coalesce((SELECT array_agg(DISTINCT pp.organisation_id) FROM project_partners pp
    WHERE pp.project_id = i.id), '{}') AS org_ids FROM bench.p_ids i;
ALTER TABLE bench.k_ids ADD PRIMARY KEY (n);
CREATE TABLE bench.k_filters AS
  SELECT f.n, f.target_group AS tg, f.region, '{' || f.status || '}' AS statuses,
    '{' || f.target_group || '}' AS tgs, '{' || f.region || '}' AS regions,
    coalesce((SELECT array_agg(id) FROM (SELECT p.id FROM projects p WHERE p.status <> 'draft'
      AND p.status = f.status AND (p.status NOT IN ('planned', 'active') OR p.end_date IS NULL
      OR p.end_date >= current_date) AND p.target_groups && ARRAY[f.target_group]
      AND p.regions && ARRAY[f.region]
      ORDER BY coalesce(p.start_date, '-infinity'::date) DESC, p.id DESC LIMIT 50) s), '{}') AS ids
  FROM bench.p_filters f;
ALTER TABLE bench.k_filters ADD PRIMARY KEY (n);
-- Kopa's prefix query for each search word (src/web/listing.rs stems the word), from the log
CREATE TABLE bench.k_words AS
  SELECT w.n, t.tsq, w.word,
    coalesce((SELECT array_agg(id) FROM (SELECT p.id FROM projects p WHERE p.status <> 'draft'
      AND (p.search_vector @@ to_tsquery('simple'::regconfig, kopa_fold(t.tsq))
           OR kopa_fold(w.word) <% p.search_text)
      ORDER BY coalesce(p.start_date, '-infinity'::date) DESC, p.id DESC LIMIT 50) s), '{}') AS ids
  FROM bench.p_words w JOIN (VALUES ('brīvprātīgo', 'brīvprātīg:*'), ('bērnu', 'bērn:*'),
    ('dažādības', 'dažādīb:*'), ('dialogam', 'dialog:*'), ('drošības', 'drošīb:*'),
    ('iekļaušanai', 'iekļaušan:*'), ('integrācijai', 'integrācij:*'), ('jauniešu', 'jaunieš:*'),
    ('kopienas', 'kopien:*'), ('kultūras', 'kultūr:*'), ('līdzdalībai', 'līdzdalīb:*'),
    ('mazākumtautību', 'mazākumtautīb:*'), ('saliedētībai', 'saliedētīb:*'), ('senioru', 'senior:*'),
    ('valodas', 'valod:*'), ('ģimeņu', 'ģimeņ:*')) AS t(word, tsq) ON t.word = w.word;
ALTER TABLE bench.k_words ADD PRIMARY KEY (n);
CREATE TABLE bench.k_ind AS
  SELECT array_agg(id ORDER BY code) AS ind_ids, array_agg('own'::text ORDER BY code) AS owns FROM indicators;
ANALYZE bench.k_list; ANALYZE bench.k_ids; ANALYZE bench.k_filters; ANALYZE bench.k_words; ANALYZE bench.k_ind;
SELECT 'k_filters', count(*), sum(cardinality(ids)) FROM bench.k_filters
UNION ALL SELECT 'k_words', count(*), sum(cardinality(ids)) FROM bench.k_words
UNION ALL SELECT 'k_ids', count(*), sum(cardinality(org_ids)) FROM bench.k_ids;
