//! Diesel table definitions, matching `migrations/` (what `diesel print-schema` would write),
//! except the generated `search_vector` columns: Diesel has no `tsvector` type without another
//! crate, and only the SQL built in `listing` reads them.

diesel::table! {
    organisations (id) {
        id -> Uuid,
        name -> Text,
        short_name -> Nullable<Text>,
        kind -> Text,
        country -> Nullable<Text>,
        registration_number -> Nullable<Text>,
        website -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        description -> Nullable<Text>,
        org_id -> Nullable<Text>,
        inferred -> Array<Text>,
        seed_key -> Nullable<Text>,
        search_text -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    programmes (id) {
        id -> Uuid,
        name -> Text,
        short_name -> Nullable<Text>,
        code -> Nullable<Text>,
        description -> Nullable<Text>,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        website -> Nullable<Text>,
        inferred -> Array<Text>,
        search_text -> Nullable<Text>,
        seed_key -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    projects (id) {
        id -> Uuid,
        reference -> Nullable<Text>,
        title -> Text,
        title_en -> Nullable<Text>,
        summary -> Nullable<Text>,
        aim -> Nullable<Text>,
        problem -> Nullable<Text>,
        objectives -> Array<Text>,
        status -> Text,
        status_stated_on -> Nullable<Date>,
        lead_organisation_id -> Uuid,
        programme_id -> Nullable<Uuid>,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        date_precision -> Text,
        places -> Array<Text>,
        regions -> Array<Text>,
        target_groups -> Array<Text>,
        municipalities -> Array<Text>,
        points -> Jsonb,
        inferred -> Array<Text>,
        total_budget -> Nullable<Numeric>,
        currency -> Nullable<Text>,
        website -> Nullable<Text>,
        contact_name -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        contact_phone -> Nullable<Text>,
        contact_role -> Nullable<Text>,
        source_document -> Nullable<Text>,
        translations -> Jsonb,
        search_text -> Nullable<Text>,
        seed_key -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    metric_rollups (project_id, indicator_id, kind) {
        project_id -> Uuid,
        indicator_id -> Uuid,
        kind -> Text,
        target_group -> Nullable<Text>,
        year -> Nullable<Int4>,
        value_sum -> Numeric,
        value_max -> Numeric,
        latest_value -> Numeric,
        latest_on -> Nullable<Date>,
        latest_updated_at -> Timestamptz,
        latest_id -> Uuid,
        values -> Int4,
        unverified -> Int4,
        inexact -> Int4,
        qualifiers -> Array<Text>,
    }
}

diesel::table! {
    project_funding (id) {
        id -> Uuid,
        project_id -> Uuid,
        position -> Int4,
        programme_id -> Nullable<Uuid>,
        funder_id -> Nullable<Uuid>,
        share_percent -> Nullable<Numeric>,
        amount -> Nullable<Numeric>,
        currency -> Nullable<Text>,
    }
}

diesel::table! {
    project_partners (id) {
        id -> Uuid,
        project_id -> Uuid,
        organisation_id -> Uuid,
        role -> Text,
        description -> Nullable<Text>,
        activity_id -> Nullable<Uuid>,
        seed_key -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    activities (id) {
        id -> Uuid,
        project_id -> Uuid,
        title -> Text,
        kind -> Text,
        description -> Nullable<Text>,
        start_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        place -> Nullable<Text>,
        region -> Nullable<Text>,
        participants -> Nullable<Int4>,
        target_groups -> Array<Text>,
        municipalities -> Array<Text>,
        points -> Jsonb,
        inferred -> Array<Text>,
        search_text -> Nullable<Text>,
        seed_key -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    indicators (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        name_lv -> Nullable<Text>,
        description -> Nullable<Text>,
        unit -> Text,
        aggregation -> Text,
        counts_towards -> Nullable<Text>,
        relation -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    metric_values (id) {
        id -> Uuid,
        project_id -> Uuid,
        indicator_id -> Uuid,
        activity_id -> Nullable<Uuid>,
        period_start -> Nullable<Date>,
        period_end -> Nullable<Date>,
        target_group -> Nullable<Text>,
        kind -> Text,
        value -> Numeric,
        note -> Nullable<Text>,
        qualifier -> Text,
        inferred -> Array<Text>,
        seed_key -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        external_id -> Nullable<Text>,
        verification -> Text,
        verification_note -> Nullable<Text>,
        verified_by -> Nullable<Uuid>,
        verified_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    metric_revisions (id) {
        id -> Int8,
        metric_value_id -> Uuid,
        project_id -> Uuid,
        op -> Text,
        version -> Int4,
        old_value -> Nullable<Numeric>,
        new_value -> Nullable<Numeric>,
        api_key_id -> Nullable<Uuid>,
        organisation_id -> Nullable<Uuid>,
        changed_at -> Timestamptz,
    }
}

diesel::table! {
    programme_organisations (id) {
        id -> Uuid,
        programme_id -> Uuid,
        position -> Int4,
        organisation_id -> Uuid,
        role -> Text,
        description -> Nullable<Text>,
    }
}

diesel::table! {
    sources (id) {
        id -> Uuid,
        title -> Text,
        publisher -> Nullable<Text>,
        url -> Nullable<Text>,
        published_on -> Nullable<Date>,
        retrieved_on -> Nullable<Date>,
        language -> Nullable<Text>,
        terms -> Nullable<Text>,
        description -> Nullable<Text>,
        inferred -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
        seed_key -> Nullable<Text>,
    }
}

diesel::table! {
    source_links (id) {
        id -> Uuid,
        source_id -> Uuid,
        position -> Int4,
        project_id -> Nullable<Uuid>,
        programme_id -> Nullable<Uuid>,
        organisation_id -> Nullable<Uuid>,
        metric_value_id -> Nullable<Uuid>,
        fields -> Array<Text>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    territories (code) {
        code -> Text,
        label_en -> Text,
        label_lv -> Text,
        position -> Int4,
        kind -> Text,
        region -> Text,
        iso -> Nullable<Text>,
        lau -> Nullable<Text>,
        lon -> Float8,
        lat -> Float8,
        valid_from -> Nullable<Date>,
        valid_to -> Nullable<Date>,
        successor -> Nullable<Text>,
    }
}

diesel::joinable!(project_funding -> projects (project_id));
diesel::joinable!(programme_organisations -> organisations (organisation_id));
diesel::joinable!(source_links -> sources (source_id));
diesel::joinable!(project_partners -> projects (project_id));
diesel::joinable!(project_partners -> organisations (organisation_id));
diesel::joinable!(activities -> projects (project_id));
diesel::joinable!(metric_values -> projects (project_id));
diesel::joinable!(metric_values -> indicators (indicator_id));

diesel::allow_tables_to_appear_in_same_query!(
    organisations,
    programmes,
    projects,
    project_funding,
    project_partners,
    activities,
    indicators,
    metric_values,
    metric_revisions,
    api_keys,
    audit_log,
    programme_organisations,
    sources,
    source_links,
    territories,
);

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        organisation_id -> Nullable<Uuid>,
        name -> Text,
        prefix -> Text,
        secret_hash -> Bytea,
        scopes -> Array<Text>,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        predecessor_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    idempotency_records (principal, key) {
        principal -> Text,
        key -> Text,
        request_hash -> Bytea,
        status -> Nullable<Int2>,
        headers -> Nullable<Jsonb>,
        body -> Nullable<Bytea>,
        locked_until -> Timestamptz,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        resource -> Text,
        record_id -> Uuid,
        op -> Text,
        version -> Nullable<Int4>,
        api_key_id -> Nullable<Uuid>,
        organisation_id -> Nullable<Uuid>,
        changed_at -> Timestamptz,
        project_id -> Nullable<Uuid>,
        changes -> Nullable<Jsonb>,
        event -> Nullable<Text>,
    }
}
diesel::table! {
    webhooks (id) {
        id -> Uuid,
        organisation_id -> Nullable<Uuid>,
        url -> Text,
        description -> Nullable<Text>,
        resources -> Array<Text>,
        project_id -> Nullable<Uuid>,
        about_organisation_id -> Nullable<Uuid>,
        visibility -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamptz>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        position_id -> Int8,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}
diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        webhook_id -> Uuid,
        message_id -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_attempt_at -> Nullable<Timestamptz>,
        last_status -> Nullable<Int2>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}
diesel::table! {
    webhook_attempts (id) {
        id -> Int8,
        delivery_id -> Int8,
        webhook_id -> Uuid,
        attempted_at -> Timestamptz,
        status_code -> Nullable<Int2>,
        error -> Nullable<Text>,
        duration_ms -> Int4,
    }
}

diesel::allow_tables_to_appear_in_same_query!(webhooks, webhook_deliveries, webhook_attempts);
