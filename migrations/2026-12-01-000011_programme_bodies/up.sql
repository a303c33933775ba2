-- A programme has any number of organisations, each with a role (funder, administrator,
-- co-administrator, intermediate body, ...), instead of one funder and one administrator. The
-- two columns move into the new table and are dropped: the API still answers `funder_id` and
-- `administrator_id` (the first funder and administrator), read from here.

CREATE TABLE programme_roles (LIKE organisation_kinds INCLUDING ALL);
INSERT INTO programme_roles (code, label_en, label_lv, position) VALUES
    ('funder', 'Funder', 'Finansētājs', 1),
    ('administrator', 'Administrator', 'Administrētājs', 2),
    ('co_administrator', 'Co-administrator', 'Līdzadministrētājs', 3),
    ('programme_operator', 'Programme operator', 'Programmas apsaimniekotājs', 4),
    ('managing_authority', 'Managing authority', 'Vadošā iestāde', 5),
    ('intermediate_body', 'Intermediate body', 'Starpniekinstitūcija', 6),
    ('co_financier', 'Co-financier', 'Līdzfinansētājs', 7);

CREATE TABLE programme_organisations (
    id uuid PRIMARY KEY,
    programme_id uuid NOT NULL REFERENCES programmes (id) ON DELETE CASCADE,
    position integer NOT NULL,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    role text NOT NULL REFERENCES programme_roles (code),
    description text CHECK (length(description) <= 2000),
    CONSTRAINT programme_organisations_programme_position_key UNIQUE (programme_id, position),
    CONSTRAINT programme_organisations_organisation_role_key UNIQUE (programme_id, organisation_id, role)
);
CREATE INDEX programme_organisations_organisation_idx ON programme_organisations (organisation_id, role, programme_id);

INSERT INTO programme_organisations (id, programme_id, position, organisation_id, role)
SELECT gen_random_uuid(), id, 0, funder_id, 'funder' FROM programmes WHERE funder_id IS NOT NULL
UNION ALL
SELECT gen_random_uuid(), id, 1, administrator_id, 'administrator' FROM programmes WHERE administrator_id IS NOT NULL;

DROP INDEX programmes_funder_idx, programmes_administrator_idx;
ALTER TABLE programmes DROP COLUMN funder_id, DROP COLUMN administrator_id;

-- Searching and sorting programmes, like projects.
ALTER TABLE programmes ADD COLUMN search_text text GENERATED ALWAYS AS (
    kopa_fold(name || ' ' || coalesce(short_name, '') || ' ' || coalesce(code, '') || ' ' || coalesce(description, ''))
) STORED;
ALTER TABLE programmes ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', kopa_fold(name || ' ' || coalesce(short_name, '') || ' ' || coalesce(code, ''))), 'A')
    || setweight(to_tsvector('simple', kopa_fold(coalesce(description, ''))), 'B')
) STORED;
CREATE INDEX programmes_search_vector_idx ON programmes USING gin (search_vector);
CREATE INDEX programmes_search_trgm_idx ON programmes USING gin (search_text gin_trgm_ops);
CREATE INDEX programmes_sort_name_idx ON programmes (name, id);
CREATE INDEX programmes_updated_idx ON programmes (updated_at, id);
CREATE INDEX programmes_start_asc_idx ON programmes ((coalesce(start_date, 'infinity'::date)), id);
CREATE INDEX programmes_start_desc_idx ON programmes ((coalesce(start_date, '-infinity'::date)), id);
CREATE INDEX programmes_end_asc_idx ON programmes ((coalesce(end_date, 'infinity'::date)), id);
CREATE INDEX programmes_end_desc_idx ON programmes ((coalesce(end_date, '-infinity'::date)), id);

-- What a partner did: a partnership may name the activity it is about (an activity of the same
-- project), and partners get roles for what organisations do in activities.
ALTER TABLE project_partners ADD COLUMN activity_id uuid,
    ADD CONSTRAINT project_partners_activity_id_fkey FOREIGN KEY (activity_id, project_id)
        REFERENCES activities (id, project_id) ON DELETE SET NULL (activity_id);
CREATE INDEX project_partners_activity_idx ON project_partners (activity_id);
INSERT INTO partner_roles (code, label_en, label_lv, position) VALUES
    ('organiser', 'Organiser', 'Organizators', 6),
    ('participant', 'Participant', 'Dalībnieks', 7),
    ('speaker', 'Speaker', 'Lektors', 8),
    ('decision_maker', 'Decision maker', 'Lēmuma pieņēmējs', 9)
ON CONFLICT (code) DO NOTHING;
