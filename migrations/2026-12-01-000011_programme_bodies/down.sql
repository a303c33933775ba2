DELETE FROM partner_roles WHERE code IN ('organiser', 'participant', 'speaker', 'decision_maker')
    AND NOT EXISTS (SELECT 1 FROM project_partners p WHERE p.role = partner_roles.code);
DROP INDEX project_partners_activity_idx;
ALTER TABLE project_partners DROP COLUMN activity_id;
DROP INDEX programmes_sort_name_idx, programmes_updated_idx, programmes_start_asc_idx, programmes_start_desc_idx,
    programmes_end_asc_idx, programmes_end_desc_idx;
ALTER TABLE programmes DROP COLUMN search_vector, DROP COLUMN search_text;
ALTER TABLE programmes ADD COLUMN funder_id uuid REFERENCES organisations (id),
    ADD COLUMN administrator_id uuid REFERENCES organisations (id);
UPDATE programmes g SET funder_id = (SELECT organisation_id FROM programme_organisations o
    WHERE o.programme_id = g.id AND o.role = 'funder' ORDER BY position LIMIT 1),
    administrator_id = (SELECT organisation_id FROM programme_organisations o
    WHERE o.programme_id = g.id AND o.role = 'administrator' ORDER BY position LIMIT 1);
CREATE INDEX programmes_funder_idx ON programmes (funder_id);
CREATE INDEX programmes_administrator_idx ON programmes (administrator_id);
DROP TABLE programme_organisations;
DROP TABLE programme_roles;
