-- The read side: diacritic-blind search, sort indexes, translations, and a change log that
-- says which project each change belongs to (so the change feed can hide drafts).

CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Lower-case, accents removed: "Ilūkstes" -> "ilukstes". `unaccent` is only STABLE (its
-- dictionary could change); pinning the dictionary makes this safe to index.
CREATE FUNCTION kopa_fold(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN lower(public.unaccent('public.unaccent'::regdictionary, value));

-- The words of a text array (array_to_string is only STABLE because of arrays of other types;
-- over text it is deterministic).
CREATE FUNCTION kopa_words(value text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN array_to_string(value, ' ');

-- Translations of a project's texts: {"en": {"title": ..., "summary": ..., "aim": ...}, "ru": {...}}.
ALTER TABLE projects ADD COLUMN translations jsonb NOT NULL DEFAULT '{}'
    CONSTRAINT projects_translations_check CHECK (jsonb_typeof(translations) = 'object');

-- What a search over a record reads, folded. Generated, so it can never drift from the record.
ALTER TABLE projects ADD COLUMN search_text text GENERATED ALWAYS AS (
    kopa_fold(title || ' ' || coalesce(title_en, '') || ' ' || coalesce(summary, '') || ' '
        || coalesce(aim, '') || ' ' || coalesce(reference, '') || ' ' || kopa_words(places) || ' ' || jsonb_path_query_array(translations, 'strict $.*.*')::text)
) STORED;
ALTER TABLE organisations ADD COLUMN search_text text GENERATED ALWAYS AS (
    kopa_fold(name || ' ' || coalesce(short_name, '') || ' ' || coalesce(registration_number, ''))
) STORED;
ALTER TABLE activities ADD COLUMN search_text text GENERATED ALWAYS AS (
    kopa_fold(title || ' ' || coalesce(place, '') || ' ' || coalesce(description, ''))
) STORED;

-- Word search (prefix match on every word) and fuzzy search (trigram word similarity).
CREATE INDEX projects_search_words_idx ON projects USING gin (to_tsvector('simple', search_text));
CREATE INDEX projects_search_trgm_idx ON projects USING gin (search_text gin_trgm_ops);
CREATE INDEX organisations_search_words_idx ON organisations USING gin (to_tsvector('simple', search_text));
CREATE INDEX organisations_search_trgm_idx ON organisations USING gin (search_text gin_trgm_ops);
CREATE INDEX activities_search_words_idx ON activities USING gin (to_tsvector('simple', search_text));
CREATE INDEX activities_search_trgm_idx ON activities USING gin (search_text gin_trgm_ops);

-- Keyset orders of the lists. Unknown dates sort last in both directions.
CREATE INDEX projects_updated_idx ON projects (updated_at, id);
CREATE INDEX projects_title_idx ON projects (title, id);
CREATE INDEX projects_start_asc_idx ON projects ((coalesce(start_date, 'infinity'::date)), id);
CREATE INDEX projects_start_desc_idx ON projects ((coalesce(start_date, '-infinity'::date)), id);
CREATE INDEX projects_end_asc_idx ON projects ((coalesce(end_date, 'infinity'::date)), id);
CREATE INDEX projects_end_desc_idx ON projects ((coalesce(end_date, '-infinity'::date)), id);
CREATE INDEX organisations_name_idx ON organisations (name, id);
CREATE INDEX organisations_updated_idx ON organisations (updated_at, id);
CREATE INDEX activities_start_asc_idx ON activities ((coalesce(start_date, 'infinity'::date)), id);
CREATE INDEX activities_start_desc_idx ON activities ((coalesce(start_date, '-infinity'::date)), id);
CREATE INDEX activities_updated_idx ON activities (updated_at, id);
CREATE INDEX metric_values_project_idx ON metric_values (project_id, id);
CREATE INDEX metric_values_updated_idx ON metric_values (updated_at, id);
CREATE INDEX project_funding_project_idx ON project_funding (project_id, position);

-- The change log learns which project a change belongs to (the project itself for projects,
-- null for records outside any project), so the change feed can tell published from draft.
ALTER TABLE audit_log ADD COLUMN project_id uuid;
CREATE INDEX audit_log_feed_idx ON audit_log (txid, id);

CREATE OR REPLACE FUNCTION kopa_audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
    in_project boolean := TG_TABLE_NAME IN ('project_partners', 'activities', 'metric_values');
BEGIN
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id)
        SELECT TG_ARGV[0], n.id, CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE 'update' END,
               n.version, key_id, org_id,
               CASE WHEN TG_TABLE_NAME = 'projects' THEN n.id
                    WHEN in_project THEN (to_jsonb(n) ->> 'project_id')::uuid END
        FROM new_rows n;
    ELSE
        INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id)
        SELECT TG_ARGV[0], o.id, 'delete', NULL, key_id, org_id,
               CASE WHEN TG_TABLE_NAME = 'projects' THEN o.id
                    WHEN in_project THEN (to_jsonb(o) ->> 'project_id')::uuid END
        FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

UPDATE audit_log a SET project_id = a.record_id WHERE a.resource = 'project';
UPDATE audit_log a SET project_id = p.project_id FROM project_partners p
    WHERE a.resource = 'partner' AND p.id = a.record_id;
UPDATE audit_log a SET project_id = x.project_id FROM activities x
    WHERE a.resource = 'activity' AND x.id = a.record_id;
UPDATE audit_log a SET project_id = m.project_id FROM metric_values m
    WHERE a.resource = 'metric' AND m.id = a.record_id;

-- A project moving into or out of `draft` publishes or withdraws its partners, activities and
-- metric values too: record that for each of them, so a mirror following the change feed
-- fetches or drops them.
CREATE FUNCTION kopa_audit_publication() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
BEGIN
    WITH flipped AS (
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.status = 'draft') <> (o.status = 'draft')
    )
    INSERT INTO audit_log (resource, record_id, op, version, api_key_id, organisation_id, project_id)
    SELECT c.resource, c.id, 'update', c.version, key_id, org_id, c.project_id
    FROM (
        SELECT 'partner' AS resource, p.id, p.version, p.project_id FROM project_partners p JOIN flipped f ON f.id = p.project_id
        UNION ALL
        SELECT 'activity', a.id, a.version, a.project_id FROM activities a JOIN flipped f ON f.id = a.project_id
        UNION ALL
        SELECT 'metric', m.id, m.version, m.project_id FROM metric_values m JOIN flipped f ON f.id = m.project_id
    ) c;
    RETURN NULL;
END $$;
CREATE TRIGGER projects_audit_publication AFTER UPDATE ON projects
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_publication();
