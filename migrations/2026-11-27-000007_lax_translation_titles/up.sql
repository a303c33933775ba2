-- 000005 read translated titles with the strict JSON path `$.*.title`, which raises an error
-- for a translation without a title ({"en": {"summary": ...}}): such a project could not be
-- stored. In lax mode a missing key is simply no match.
ALTER TABLE projects DROP COLUMN search_vector;
ALTER TABLE projects ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', kopa_fold(title || ' ' || coalesce(title_en, '') || ' '
        || jsonb_path_query_array(translations, 'lax $.*.title')::text)), 'A')
    || setweight(to_tsvector('simple', kopa_fold(coalesce(summary, '') || ' ' || coalesce(aim, '')
        || ' ' || coalesce(reference, '') || ' ' || kopa_words(places) || ' '
        || jsonb_path_query_array(translations, 'lax $.*.*')::text)), 'B')
) STORED;
CREATE INDEX projects_search_vector_idx ON projects USING gin (search_vector);
