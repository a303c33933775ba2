-- The rollups also keep what a stats answer says about its values besides the figures: how
-- many are not verified, how many are not exact and with which qualifiers. A stats request then
-- reads no metric values at all unless it asks for period bounds or verified values only.
ALTER TABLE metric_rollups
    ADD COLUMN unverified integer NOT NULL DEFAULT 0,
    ADD COLUMN inexact integer NOT NULL DEFAULT 0,
    ADD COLUMN qualifiers text[] NOT NULL DEFAULT '{}';
-- The few rollups with inexact values, found without reading the others.
CREATE INDEX metric_rollups_inexact_idx ON metric_rollups (indicator_id, kind) WHERE inexact > 0;

CREATE OR REPLACE FUNCTION kopa_refresh_rollups(touched jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('kopa_rollup:' || p, 0))
        FROM (SELECT DISTINCT t->>'project_id' AS p FROM jsonb_array_elements(touched) t ORDER BY 1) ps;
    DELETE FROM metric_rollups r
        USING (SELECT DISTINCT (t->>'project_id')::uuid AS project_id,
                      (t->>'indicator_id')::uuid AS indicator_id, t->>'kind' AS kind
                 FROM jsonb_array_elements(touched) t) a
        WHERE r.project_id = a.project_id AND r.indicator_id = a.indicator_id AND r.kind = a.kind;
    INSERT INTO metric_rollups (project_id, indicator_id, kind, target_group, year, value_sum,
                                value_max, latest_value, latest_on, latest_updated_at, latest_id,
                                "values", unverified, inexact, qualifiers)
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
           count(*),
           count(*) FILTER (WHERE m.verification <> 'verified'),
           count(*) FILTER (WHERE m.qualifier <> 'exact'),
           coalesce(array_agg(DISTINCT m.qualifier) FILTER (WHERE m.qualifier <> 'exact'), '{}')
    FROM metric_values m
    JOIN (SELECT DISTINCT (t->>'project_id')::uuid AS project_id,
                 (t->>'indicator_id')::uuid AS indicator_id, t->>'kind' AS kind
            FROM jsonb_array_elements(touched) t) a
      ON m.project_id = a.project_id AND m.indicator_id = a.indicator_id AND m.kind = a.kind
    GROUP BY m.project_id, m.indicator_id, m.kind, m.target_group,
             extract(year FROM coalesce(m.period_end, m.period_start))::int;
END $$;

-- What is stored already.
SELECT kopa_refresh_rollups(jsonb_agg(DISTINCT jsonb_build_object('project_id', project_id,
    'indicator_id', indicator_id, 'kind', kind)))
FROM metric_values HAVING count(*) > 0;
