-- Provenance: sources as records, and which sources projects, programmes, organisations and
-- metric values rest on (naming the fields each source gives). Fields or whole records that
-- were inferred rather than stated say so in `inferred`. Contacts keep their role; organisations
-- get an org-id.guide identifier derived from country and registration number.

CREATE TABLE sources (
    id uuid PRIMARY KEY,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    publisher text CHECK (length(publisher) BETWEEN 1 AND 300),
    url text CHECK (length(url) <= 1000),
    published_on date,
    retrieved_on date,
    language text CHECK (language ~ '^[a-z]{2,3}$'),
    terms text CHECK (length(terms) <= 2000),
    description text CHECK (length(description) <= 5000),
    inferred text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX sources_url_key ON sources (url);
CREATE TRIGGER sources_touch BEFORE UPDATE ON sources FOR EACH ROW EXECUTE FUNCTION kopa_touch();
CREATE TRIGGER sources_audit_insert AFTER INSERT ON sources REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('source');
CREATE TRIGGER sources_audit_update AFTER UPDATE ON sources REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('source');
CREATE TRIGGER sources_audit_delete AFTER DELETE ON sources REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kopa_audit_rows('source');

-- One row per (record, source): exactly one of the record columns is set.
CREATE TABLE source_links (
    id uuid PRIMARY KEY,
    source_id uuid NOT NULL REFERENCES sources (id),
    position integer NOT NULL,
    project_id uuid REFERENCES projects (id) ON DELETE CASCADE,
    programme_id uuid REFERENCES programmes (id) ON DELETE CASCADE,
    organisation_id uuid REFERENCES organisations (id) ON DELETE CASCADE,
    metric_value_id uuid REFERENCES metric_values (id) ON DELETE CASCADE,
    fields text[] NOT NULL DEFAULT '{}' CHECK (cardinality(fields) <= 50),
    note text CHECK (length(note) <= 2000),
    CONSTRAINT source_links_record_check CHECK (num_nonnulls(project_id, programme_id, organisation_id, metric_value_id) = 1)
);
CREATE INDEX source_links_source_idx ON source_links (source_id);
CREATE INDEX source_links_project_idx ON source_links (project_id, position) WHERE project_id IS NOT NULL;
CREATE INDEX source_links_programme_idx ON source_links (programme_id, position) WHERE programme_id IS NOT NULL;
CREATE INDEX source_links_organisation_idx ON source_links (organisation_id, position) WHERE organisation_id IS NOT NULL;
CREATE INDEX source_links_metric_idx ON source_links (metric_value_id, position) WHERE metric_value_id IS NOT NULL;

ALTER TABLE projects ADD COLUMN inferred text[] NOT NULL DEFAULT '{}', ADD COLUMN contact_role text
    CHECK (length(contact_role) <= 200);
ALTER TABLE programmes ADD COLUMN inferred text[] NOT NULL DEFAULT '{}';
ALTER TABLE organisations ADD COLUMN inferred text[] NOT NULL DEFAULT '{}';
ALTER TABLE metric_values ADD COLUMN inferred text[] NOT NULL DEFAULT '{}';
ALTER TABLE activities ADD COLUMN inferred text[] NOT NULL DEFAULT '{}';

-- The audit trigger's variable `org_id` would now clash with the organisations column of that
-- name: the variable is meant.
CREATE OR REPLACE FUNCTION kopa_audit_rows() RETURNS trigger LANGUAGE plpgsql AS $$
#variable_conflict use_variable
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

-- The org-id.guide identifier (as IATI and 360Giving publish them) where the register that gave
-- the organisation's number is known: LV-RE, Latvia's Uzņēmumu reģistrs, whose numbers start
-- with 4 or 5 (companies, associations, foundations; a 9000... number is a taxpayer number of a
-- state or municipal body, registered elsewhere), and NO-BRC, Norway's Brønnøysundregistrene
-- (9-digit organisation numbers).
ALTER TABLE organisations ADD COLUMN org_id text GENERATED ALWAYS AS (
    CASE WHEN country = 'LV' AND registration_number ~ '^[45][0-9]{10}$' THEN 'LV-RE-' || registration_number
         WHEN country = 'NO' AND registration_number ~ '^[0-9]{9}$' THEN 'NO-BRC-' || registration_number
    END
) STORED;
CREATE INDEX organisations_org_id_idx ON organisations (org_id) WHERE org_id IS NOT NULL;
