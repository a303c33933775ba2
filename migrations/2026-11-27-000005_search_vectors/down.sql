DROP INDEX metric_values_stats_idx;
DROP INDEX projects_search_vector_idx, organisations_search_vector_idx, activities_search_vector_idx;
CREATE INDEX projects_search_words_idx ON projects USING gin (to_tsvector('simple', search_text));
CREATE INDEX organisations_search_words_idx ON organisations USING gin (to_tsvector('simple', search_text));
CREATE INDEX activities_search_words_idx ON activities USING gin (to_tsvector('simple', search_text));
ALTER TABLE activities DROP COLUMN search_vector;
ALTER TABLE organisations DROP COLUMN search_vector;
ALTER TABLE projects DROP COLUMN search_vector;
