ALTER TABLE projects DROP COLUMN search_vector;
ALTER TABLE projects ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', kopa_fold(title || ' ' || coalesce(title_en, '') || ' '
        || jsonb_path_query_array(translations, 'strict $.*.title')::text)), 'A')
    || setweight(to_tsvector('simple', kopa_fold(coalesce(summary, '') || ' ' || coalesce(aim, '')
        || ' ' || coalesce(reference, '') || ' ' || kopa_words(places) || ' '
        || jsonb_path_query_array(translations, 'strict $.*.*')::text)), 'B')
) STORED;
CREATE INDEX projects_search_vector_idx ON projects USING gin (search_vector);
