-- Answers without recomputation: indicator families, per-project rollups of metric values kept
-- in the same transaction as every write, and a notification on every commit that changes
-- what anonymous readers see (the response store of each instance listens for it).

-- Families: an indicator may count towards a broader one, and says how its people relate to
-- the family's other members, so a family total never counts a person twice:
--   disjoint    no one counted here is counted by another disjoint member: they add up;
--   overlapping may count the same people as other members: it bounds the total from below;
--   subset      part of the broader indicator's own figure (when a project reports it).
-- A family's total for a project is the largest of: the broader indicator's own figure, the
-- sum of its disjoint members, and each overlapping or subset member.
ALTER TABLE indicators
    ADD COLUMN counts_towards text REFERENCES indicators (code) ON UPDATE CASCADE,
    ADD COLUMN relation text NOT NULL DEFAULT 'overlapping'
        CONSTRAINT indicators_relation_check CHECK (relation IN ('disjoint', 'overlapping', 'subset')),
    ADD CONSTRAINT indicators_counts_towards_check CHECK (counts_towards IS DISTINCT FROM code);

-- One row per project, indicator, kind, target group and year with every figure a stats
-- question needs: the sum, the maximum, and the latest value (with what orders it).
CREATE TABLE metric_rollups (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    indicator_id uuid NOT NULL REFERENCES indicators (id) ON DELETE CASCADE,
    kind text NOT NULL,
    target_group text,
    year integer,
    value_sum numeric NOT NULL,
    value_max numeric NOT NULL,
    latest_value numeric NOT NULL,
    latest_on date,
    latest_updated_at timestamptz NOT NULL,
    latest_id uuid NOT NULL,
    "values" integer NOT NULL
);
CREATE UNIQUE INDEX metric_rollups_key ON metric_rollups
    (project_id, indicator_id, kind, coalesce(target_group, ''), coalesce(year, -1));
CREATE INDEX metric_rollups_indicator_idx ON metric_rollups (indicator_id, kind, project_id);

-- Recomputes the rollups of the (project, indicator, kind) triples a statement touched. Writers
-- of one project take turns (an advisory lock per project, taken in a fixed order), and each
-- recomputation reads the values committed before it plus its own, so concurrent writes
-- never lose a rollup.
CREATE FUNCTION kopa_refresh_rollups(touched jsonb) RETURNS void LANGUAGE plpgsql AS $$
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

CREATE FUNCTION kopa_metric_rollups() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT jsonb_agg(DISTINCT jsonb_build_object('project_id', project_id, 'indicator_id', indicator_id, 'kind', kind))
          INTO touched FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT jsonb_agg(DISTINCT k) INTO touched FROM (
            SELECT jsonb_build_object('project_id', project_id, 'indicator_id', indicator_id, 'kind', kind) AS k FROM new_rows
            UNION SELECT jsonb_build_object('project_id', project_id, 'indicator_id', indicator_id, 'kind', kind) FROM old_rows) u;
    ELSE
        SELECT jsonb_agg(DISTINCT jsonb_build_object('project_id', project_id, 'indicator_id', indicator_id, 'kind', kind))
          INTO touched FROM old_rows;
    END IF;
    IF touched IS NOT NULL THEN
        PERFORM kopa_refresh_rollups(touched);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER metric_values_rollups_insert AFTER INSERT ON metric_values REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_metric_rollups();
CREATE TRIGGER metric_values_rollups_update AFTER UPDATE ON metric_values
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_metric_rollups();
CREATE TRIGGER metric_values_rollups_delete AFTER DELETE ON metric_values REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_metric_rollups();

-- What is stored already.
SELECT kopa_refresh_rollups(jsonb_agg(DISTINCT jsonb_build_object('project_id', project_id,
    'indicator_id', indicator_id, 'kind', kind)))
FROM metric_values HAVING count(*) > 0;

-- Every commit that changes published data (everything that is audited, and the
-- vocabularies) tells listeners so; NOTIFY is delivered at commit, and only then.
CREATE FUNCTION kopa_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kopa_changes', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER audit_log_notify AFTER INSERT ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_notify_change();
CREATE TRIGGER organisation_kinds_notify AFTER INSERT OR UPDATE OR DELETE ON organisation_kinds
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_notify_change();
CREATE TRIGGER partner_roles_notify AFTER INSERT OR UPDATE OR DELETE ON partner_roles
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_notify_change();
CREATE TRIGGER target_groups_notify AFTER INSERT OR UPDATE OR DELETE ON target_groups
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_notify_change();
CREATE TRIGGER regions_notify AFTER INSERT OR UPDATE OR DELETE ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_notify_change();
CREATE TRIGGER activity_kinds_notify AFTER INSERT OR UPDATE OR DELETE ON activity_kinds
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_notify_change();
CREATE TRIGGER units_notify AFTER INSERT OR UPDATE OR DELETE ON units
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_notify_change();
