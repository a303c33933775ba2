-- Kopa registry schema.
--
-- Rules live here as well as in the API: foreign keys, CHECKs and unique keys are the last line
-- of defence, and the API maps their violations to 409/422 naming the field. Constraint names are
-- part of that mapping (src/error.rs), so rename them together.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- Every mutable record carries `version` (+1 on each change) and `updated_at`.
CREATE FUNCTION kopa_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    NEW.created_at := OLD.created_at;
    RETURN NEW;
END $$;

-- Controlled vocabularies. The codes are reference data the schema is defined over (the API
-- validates against them), not seed data, so their base sets are inserted here.
CREATE TABLE organisation_kinds (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$'),
    label_en text NOT NULL,
    label_lv text NOT NULL,
    position integer NOT NULL DEFAULT 0
);
CREATE TABLE partner_roles (LIKE organisation_kinds INCLUDING ALL);
CREATE TABLE target_groups (LIKE organisation_kinds INCLUDING ALL);
CREATE TABLE regions (LIKE organisation_kinds INCLUDING ALL);
CREATE TABLE activity_kinds (LIKE organisation_kinds INCLUDING ALL);
CREATE TABLE units (LIKE organisation_kinds INCLUDING ALL);

INSERT INTO organisation_kinds (code, label_en, label_lv, position) VALUES
    ('municipality', 'Municipality', 'Pašvaldība', 1),
    ('state_institution', 'State institution', 'Valsts iestāde', 2),
    ('ngo', 'Non-governmental organisation', 'Nevalstiskā organizācija', 3),
    ('foundation', 'Foundation', 'Nodibinājums', 4),
    ('international_organisation', 'International organisation', 'Starptautiska organizācija', 5),
    ('company', 'Company', 'Uzņēmums', 6),
    ('other', 'Other', 'Cits', 7);

INSERT INTO partner_roles (code, label_en, label_lv, position) VALUES
    ('partner', 'Partner', 'Sadarbības partneris', 1),
    ('co_implementer', 'Co-implementer', 'Līdzīstenotājs', 2),
    ('associated_partner', 'Associated partner', 'Asociētais partneris', 3),
    ('co_financier', 'Co-financier', 'Līdzfinansētājs', 4),
    ('supporter', 'Supporter', 'Atbalstītājs', 5);

INSERT INTO target_groups (code, label_en, label_lv, position) VALUES
    ('children', 'Children', 'Bērni', 1),
    ('youth', 'Young people', 'Jaunieši', 2),
    ('seniors', 'Seniors', 'Seniori', 3),
    ('young_parents', 'Young parents', 'Jaunie vecāki', 4),
    ('families_with_children', 'Families with children', 'Ģimenes ar bērniem', 5),
    ('low_income', 'People with low income', 'Personas ar zemiem ienākumiem', 6),
    ('ethnic_minorities', 'Ethnic minorities', 'Mazākumtautību pārstāvji', 7),
    ('non_citizens', 'Non-citizens', 'Nepilsoņi', 8),
    ('third_country_nationals', 'Third-country nationals', 'Trešo valstu valstspiederīgie', 9),
    ('immigrants', 'Immigrants', 'Imigranti', 10),
    ('ngos', 'NGOs', 'Nevalstiskās organizācijas', 11),
    ('minority_ngos', 'Minority NGOs', 'Mazākumtautību NVO', 12),
    ('municipalities', 'Municipalities', 'Pašvaldības', 13),
    ('general_public', 'General public', 'Sabiedrība kopumā', 14),
    ('public_officials', 'Public officials', 'Valsts pārvaldes darbinieki', 15);

INSERT INTO regions (code, label_en, label_lv, position) VALUES
    ('riga', 'Riga', 'Rīga', 1),
    ('pieriga', 'Pierīga', 'Pierīga', 2),
    ('vidzeme', 'Vidzeme', 'Vidzeme', 3),
    ('kurzeme', 'Kurzeme', 'Kurzeme', 4),
    ('zemgale', 'Zemgale', 'Zemgale', 5),
    ('latgale', 'Latgale', 'Latgale', 6),
    ('latvia', 'Latvia (nationwide)', 'Visa Latvija', 7),
    ('abroad', 'Abroad', 'Ārvalstis', 8);

INSERT INTO activity_kinds (code, label_en, label_lv, position) VALUES
    ('research', 'Research', 'Izpēte', 1),
    ('planning', 'Planning', 'Plānošana', 2),
    ('course', 'Course', 'Kursi', 3),
    ('training', 'Training', 'Apmācības', 4),
    ('lecture', 'Lecture', 'Lekcija', 5),
    ('event', 'Event', 'Pasākums', 6),
    ('meeting', 'Meeting', 'Tikšanās', 7),
    ('workshop', 'Workshop', 'Darbnīca', 8),
    ('exhibition', 'Exhibition', 'Izstāde', 9),
    ('competition', 'Competition', 'Sacensības', 10),
    ('sport', 'Sport', 'Sports', 11),
    ('conference', 'Conference', 'Konference', 12),
    ('volunteering', 'Volunteering', 'Brīvprātīgais darbs', 13),
    ('networking', 'Networking', 'Sadarbības tīkls', 14),
    ('publicity', 'Publicity', 'Publicitāte', 15),
    ('other', 'Other', 'Cits', 16);

INSERT INTO units (code, label_en, label_lv, position) VALUES
    ('person', 'Persons', 'Personas', 1),
    ('event', 'Events', 'Pasākumi', 2),
    ('initiative', 'Initiatives', 'Iniciatīvas', 3),
    ('document', 'Documents', 'Dokumenti', 4),
    ('organisation', 'Organisations', 'Organizācijas', 5),
    ('hour', 'Hours', 'Stundas', 6),
    ('eur', 'Euro', 'Eiro', 7),
    ('percent', 'Percent', 'Procenti', 8);

-- Arrays of vocabulary codes cannot carry foreign keys; this check gives them the same guarantee.
CREATE FUNCTION kopa_codes_exist(vocabulary regclass, codes text[]) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    missing integer;
BEGIN
    IF codes IS NULL OR cardinality(codes) = 0 THEN
        RETURN true;
    END IF;
    EXECUTE format('SELECT count(*) FROM unnest($1) AS c(code) WHERE NOT EXISTS (SELECT 1 FROM %s v WHERE v.code = c.code)', vocabulary)
        INTO missing USING codes;
    RETURN missing = 0;
END $$;

CREATE TABLE organisations (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    short_name text CHECK (length(short_name) BETWEEN 1 AND 100),
    kind text NOT NULL REFERENCES organisation_kinds (code),
    country text CHECK (country ~ '^[A-Z]{2}$'),
    registration_number text CHECK (length(registration_number) BETWEEN 1 AND 50),
    website text CHECK (length(website) <= 500),
    email text CHECK (length(email) <= 254),
    phone text CHECK (length(phone) <= 50),
    description text CHECK (length(description) <= 5000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX organisations_name_key ON organisations (lower(name), coalesce(country, ''));
CREATE UNIQUE INDEX organisations_registration_number_key ON organisations (coalesce(country, ''), registration_number);
CREATE INDEX organisations_kind_idx ON organisations (kind, id);
CREATE TRIGGER organisations_touch BEFORE UPDATE ON organisations FOR EACH ROW EXECUTE FUNCTION kopa_touch();

CREATE TABLE programmes (
    id uuid PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
    short_name text CHECK (length(short_name) BETWEEN 1 AND 100),
    code text CHECK (length(code) BETWEEN 1 AND 50),
    description text CHECK (length(description) <= 5000),
    funder_id uuid REFERENCES organisations (id),
    administrator_id uuid REFERENCES organisations (id),
    start_date date,
    end_date date,
    website text CHECK (length(website) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT programmes_period_check CHECK (end_date >= start_date)
);
CREATE UNIQUE INDEX programmes_name_key ON programmes (lower(name));
CREATE INDEX programmes_funder_idx ON programmes (funder_id);
CREATE INDEX programmes_administrator_idx ON programmes (administrator_id);
CREATE TRIGGER programmes_touch BEFORE UPDATE ON programmes FOR EACH ROW EXECUTE FUNCTION kopa_touch();

CREATE TABLE projects (
    id uuid PRIMARY KEY,
    reference text CHECK (length(reference) BETWEEN 1 AND 100),
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    title_en text CHECK (length(title_en) BETWEEN 1 AND 500),
    summary text CHECK (length(summary) <= 5000),
    aim text CHECK (length(aim) <= 5000),
    problem text CHECK (length(problem) <= 5000),
    objectives text[] NOT NULL DEFAULT '{}' CHECK (cardinality(objectives) <= 50),
    status text NOT NULL CHECK (status IN ('draft', 'planned', 'active', 'completed', 'cancelled')),
    lead_organisation_id uuid NOT NULL REFERENCES organisations (id),
    programme_id uuid REFERENCES programmes (id),
    start_date date,
    end_date date,
    date_precision text NOT NULL DEFAULT 'day' CHECK (date_precision IN ('day', 'month', 'year')),
    places text[] NOT NULL DEFAULT '{}' CHECK (cardinality(places) <= 100),
    regions text[] NOT NULL DEFAULT '{}' CONSTRAINT projects_regions_check CHECK (kopa_codes_exist('regions', regions)),
    target_groups text[] NOT NULL DEFAULT '{}' CONSTRAINT projects_target_groups_check CHECK (kopa_codes_exist('target_groups', target_groups)),
    total_budget numeric(16, 2) CHECK (total_budget >= 0),
    currency text CHECK (currency ~ '^[A-Z]{3}$'),
    website text CHECK (length(website) <= 500),
    contact_name text CHECK (length(contact_name) <= 200),
    contact_email text CHECK (length(contact_email) <= 254),
    contact_phone text CHECK (length(contact_phone) <= 50),
    source_document text CHECK (length(source_document) <= 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT projects_period_check CHECK (end_date >= start_date),
    CONSTRAINT projects_budget_currency_check CHECK ((total_budget IS NULL) = (currency IS NULL))
);
CREATE UNIQUE INDEX projects_reference_key ON projects (reference);
CREATE INDEX projects_lead_idx ON projects (lead_organisation_id, id);
CREATE INDEX projects_programme_idx ON projects (programme_id, id);
CREATE INDEX projects_status_idx ON projects (status, id);
CREATE INDEX projects_target_groups_idx ON projects USING gin (target_groups);
CREATE INDEX projects_regions_idx ON projects USING gin (regions);
CREATE TRIGGER projects_touch BEFORE UPDATE ON projects FOR EACH ROW EXECUTE FUNCTION kopa_touch();

-- Funding lines: who pays which share of a project. Shares of one project add up to at most 100.
CREATE TABLE project_funding (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    position integer NOT NULL,
    programme_id uuid REFERENCES programmes (id),
    funder_id uuid REFERENCES organisations (id),
    share_percent numeric(5, 2) CONSTRAINT project_funding_share_check CHECK (share_percent BETWEEN 0 AND 100),
    amount numeric(16, 2) CHECK (amount >= 0),
    currency text CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT project_funding_source_check CHECK (programme_id IS NOT NULL OR funder_id IS NOT NULL),
    CONSTRAINT project_funding_amount_currency_check CHECK ((amount IS NULL) = (currency IS NULL)),
    UNIQUE (project_id, position)
);
CREATE INDEX project_funding_programme_idx ON project_funding (programme_id);
CREATE INDEX project_funding_funder_idx ON project_funding (funder_id);

CREATE FUNCTION kopa_check_funding_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT coalesce(sum(share_percent), 0) FROM project_funding WHERE project_id = NEW.project_id) > 100 THEN
        RAISE EXCEPTION 'funding shares of project % exceed 100 percent', NEW.project_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'project_funding_total_check';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER project_funding_total_check AFTER INSERT OR UPDATE ON project_funding
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION kopa_check_funding_total();

CREATE TABLE project_partners (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    role text NOT NULL REFERENCES partner_roles (code),
    description text CHECK (length(description) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT project_partners_project_organisation_role_key UNIQUE (project_id, organisation_id, role)
);
CREATE INDEX project_partners_organisation_idx ON project_partners (organisation_id, project_id);
CREATE TRIGGER project_partners_touch BEFORE UPDATE ON project_partners FOR EACH ROW EXECUTE FUNCTION kopa_touch();

CREATE TABLE activities (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    kind text NOT NULL REFERENCES activity_kinds (code),
    description text CHECK (length(description) <= 5000),
    start_date date,
    end_date date,
    place text CHECK (length(place) <= 300),
    region text REFERENCES regions (code),
    participants integer CONSTRAINT activities_participants_check CHECK (participants >= 0),
    target_groups text[] NOT NULL DEFAULT '{}' CONSTRAINT activities_target_groups_check CHECK (kopa_codes_exist('target_groups', target_groups)),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT activities_period_check CHECK (end_date >= start_date),
    CONSTRAINT activities_id_project_key UNIQUE (id, project_id)
);
CREATE INDEX activities_project_idx ON activities (project_id, id);
CREATE INDEX activities_kind_idx ON activities (kind, id);
CREATE TRIGGER activities_touch BEFORE UPDATE ON activities FOR EACH ROW EXECUTE FUNCTION kopa_touch();

CREATE TABLE indicators (
    id uuid PRIMARY KEY,
    code text NOT NULL CONSTRAINT indicators_code_check CHECK (code ~ '^[a-z][a-z0-9_]{0,63}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    name_lv text CHECK (length(name_lv) BETWEEN 1 AND 200),
    description text CHECK (length(description) <= 2000),
    unit text NOT NULL REFERENCES units (code),
    aggregation text NOT NULL CHECK (aggregation IN ('sum', 'max', 'latest')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT indicators_code_key UNIQUE (code)
);
CREATE TRIGGER indicators_touch BEFORE UPDATE ON indicators FOR EACH ROW EXECUTE FUNCTION kopa_touch();

CREATE TABLE metric_values (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    indicator_id uuid NOT NULL REFERENCES indicators (id),
    activity_id uuid,
    -- The period a number covers; unknown for some historic numbers (both null then).
    period_start date,
    period_end date,
    target_group text REFERENCES target_groups (code),
    kind text NOT NULL CHECK (kind IN ('actual', 'target', 'baseline')),
    value numeric(20, 4) NOT NULL CONSTRAINT metric_values_value_check CHECK (value >= 0),
    note text CHECK (length(note) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1,
    CONSTRAINT metric_values_period_check CHECK (period_end >= period_start),
    CONSTRAINT metric_values_period_pair_check CHECK ((period_start IS NULL) = (period_end IS NULL)),
    -- An activity's numbers belong to that activity's own project.
    CONSTRAINT metric_values_activity_id_fkey FOREIGN KEY (activity_id, project_id)
        REFERENCES activities (id, project_id) ON DELETE CASCADE,
    CONSTRAINT metric_values_natural_key UNIQUE NULLS NOT DISTINCT
        (project_id, indicator_id, activity_id, period_start, period_end, target_group, kind)
);
CREATE INDEX metric_values_indicator_idx ON metric_values (indicator_id, id);
CREATE INDEX metric_values_activity_idx ON metric_values (activity_id);
CREATE TRIGGER metric_values_touch BEFORE UPDATE ON metric_values FOR EACH ROW EXECUTE FUNCTION kopa_touch();

-- The audit trail of outcome numbers: every insert, change and delete of a metric value, with
-- who made it when the API set `kopa.api_key_id` / `kopa.organisation_id` for the transaction.
-- No foreign key to metric_values: revisions outlive the value they describe.
CREATE TABLE metric_revisions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    metric_value_id uuid NOT NULL,
    project_id uuid NOT NULL,
    op text NOT NULL CHECK (op IN ('create', 'update', 'delete')),
    version integer NOT NULL,
    old_value numeric(20, 4),
    new_value numeric(20, 4),
    api_key_id uuid,
    organisation_id uuid,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX metric_revisions_value_idx ON metric_revisions (metric_value_id, id);

CREATE FUNCTION kopa_record_metric_revision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key_id uuid := nullif(current_setting('kopa.api_key_id', true), '')::uuid;
    org_id uuid := nullif(current_setting('kopa.organisation_id', true), '')::uuid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO metric_revisions (metric_value_id, project_id, op, version, old_value, new_value, api_key_id, organisation_id)
        VALUES (NEW.id, NEW.project_id, 'create', NEW.version, NULL, NEW.value, key_id, org_id);
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO metric_revisions (metric_value_id, project_id, op, version, old_value, new_value, api_key_id, organisation_id)
        VALUES (NEW.id, NEW.project_id, 'update', NEW.version, OLD.value, NEW.value, key_id, org_id);
        RETURN NEW;
    ELSE
        INSERT INTO metric_revisions (metric_value_id, project_id, op, version, old_value, new_value, api_key_id, organisation_id)
        VALUES (OLD.id, OLD.project_id, 'delete', OLD.version + 1, OLD.value, NULL, key_id, org_id);
        RETURN OLD;
    END IF;
END $$;
CREATE TRIGGER metric_values_revision AFTER INSERT OR UPDATE OR DELETE ON metric_values
    FOR EACH ROW EXECUTE FUNCTION kopa_record_metric_revision();
