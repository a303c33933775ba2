CREATE OR REPLACE FUNCTION kopa_refresh_rollups(touched jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('kopa_rollup:' || p, 0))
        FROM (SELECT DISTINCT t->>'project_id' AS p FROM jsonb_array_elements(touched) t ORDER BY 1) ps;
    DELETE FROM metric_rollups r
        USING (SELECT DISTINCT (t->>'project_id')::uuid AS project_id,
                      (t->>'indicator_id')::uuid AS indicator_id, t->>'kind' AS kind
                 FROM jsonb_array_elements(touched) t) a
        WHERE r.project_id = a.project_id AND r.indicator_id = a.indicator_id AND r.kind = a.kind;
    INSERT INTO metric_rollups
    SELECT m.project_id, m.indicator_id, m.kind, m.target_group,
           extract(year FROM coalesce(m.period_end, m.period_start))::int,
           sum(m.value), max(m.value),
           (array_agg(m.value ORDER BY coalesce(m.period_end, m.period_start) DESC NULLS LAST,
                      m.updated_at DESC, m.id DESC))[1],
           (array_agg(coalesce(m.period_end, m.period_start) ORDER BY
                      coalesce(m.period_end, m.period_start) DESC NULLS LAST, m.updated_at DESC, m.id DESC))[1],
           (array_agg(m.updated_at ORDER BY coalesce(m.period_end, m.period_start) DESC NULLS LAST,
                      m.updated_at DESC, m.id DESC))[1],
           (array_agg(m.id ORDER BY coalesce(m.period_end, m.period_start) DESC NULLS LAST,
                      m.updated_at DESC, m.id DESC))[1],
           count(*)
    FROM metric_values m
    JOIN (SELECT DISTINCT (t->>'project_id')::uuid AS project_id,
                 (t->>'indicator_id')::uuid AS indicator_id, t->>'kind' AS kind
            FROM jsonb_array_elements(touched) t) a
      ON m.project_id = a.project_id AND m.indicator_id = a.indicator_id AND m.kind = a.kind
    GROUP BY m.project_id, m.indicator_id, m.kind, m.target_group,
             extract(year FROM coalesce(m.period_end, m.period_start))::int;
END $$;

DROP INDEX metric_rollups_inexact_idx;
ALTER TABLE metric_rollups DROP COLUMN qualifiers, DROP COLUMN inexact, DROP COLUMN unverified;
