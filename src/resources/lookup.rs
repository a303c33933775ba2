//! Names of records by id, in one query per kind: what exports and stats show beside the ids
//! they carry. Below every resource, so any of them can name another without importing it.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::{organisations, programmes, projects};
use crate::web::error::ApiResult;

/// Titles of projects.
pub async fn project_titles(
    conn: &mut AsyncPgConnection,
    ids: impl IntoIterator<Item = Uuid>,
) -> ApiResult<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    Ok(projects::table
        .filter(projects::id.eq_any(ids))
        .select((projects::id, projects::title))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Names of organisations.
pub async fn organisation_names(
    conn: &mut AsyncPgConnection,
    ids: impl IntoIterator<Item = Uuid>,
) -> ApiResult<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    Ok(organisations::table
        .filter(organisations::id.eq_any(ids))
        .select((organisations::id, organisations::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect())
}

/// Names of programmes.
pub async fn programme_names(
    conn: &mut AsyncPgConnection,
    ids: impl IntoIterator<Item = Uuid>,
) -> ApiResult<HashMap<Uuid, String>> {
    let ids: Vec<Uuid> = ids.into_iter().collect();
    Ok(programmes::table
        .filter(programmes::id.eq_any(ids))
        .select((programmes::id, programmes::name))
        .load::<(Uuid, String)>(conn)
        .await?
        .into_iter()
        .collect())
}
