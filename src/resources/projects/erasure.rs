//! Erasing a project's contact person (personal data): from the record, from every entry of
//! its history, and from stored idempotent responses; the erasure itself is an audit entry
//! (`contact_erased`) that names the fields, never their values.

use actix_web::{delete, HttpResponse};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::Project;
use crate::domain::ProjectId;
use crate::resources::record::{self, Ctx, Key, Lock, Record, Versioned};
use crate::schema::projects;
use crate::web::error::ApiResult;
use crate::web::http::IfMatch;

/// Erase a project's contact
///
/// Removes the contact person from the project, from every entry of its history and from
/// stored idempotent responses, and records the erasure (who, when, which fields) in the
/// project's history. For keys that may edit the project. Takes `If-Match`.
#[utoipa::path(
    tag = "projects",
    params(("id" = Uuid, Path, description = "Project id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Erased (also when there was no contact)"))
)]
#[delete("/projects/{id}/contact")]
pub async fn erase_contact(ctx: Ctx, Key(id): Key<ProjectId>) -> ApiResult<HttpResponse> {
    let caller = &ctx.caller;
    let precondition = IfMatch::from_request(&ctx.req);
    let mut conn = ctx.state.writer(caller).await?;
    conn.transaction(async |conn| -> ApiResult<()> {
        let row = Project::fetch(conn, &id, Lock::ForUpdate)
            .await?
            .ok_or_else(|| Project::not_found(&id))?;
        caller.authorize(conn, Project::access(&row)).await?;
        precondition.check(&row.etag())?;
        let (name, email, phone): (Option<String>, Option<String>, Option<String>) =
            projects::table
                .find(id.0)
                .select((
                    projects::contact_name,
                    projects::contact_email,
                    projects::contact_phone,
                ))
                .first(conn)
                .await?;
        let values: Vec<String> = [name, email, phone].into_iter().flatten().collect();
        if values.is_empty() {
            return Ok(());
        }
        record::mark_event(conn, "contact_erased").await?;
        diesel::update(projects::table.find(id.0))
            .set((
                projects::contact_name.eq(None::<String>),
                projects::contact_email.eq(None::<String>),
                projects::contact_phone.eq(None::<String>),
            ))
            .execute(conn)
            .await?;
        diesel::sql_query(
            "UPDATE audit_log SET changes = kopa_erase_contact(changes) \
             WHERE resource = 'project' AND record_id = $1 \
               AND changes ?| ARRAY['contact_name', 'contact_email', 'contact_phone']",
        )
        .bind::<diesel::sql_types::Uuid, _>(id.0)
        .execute(conn)
        .await?;
        crate::web::idempotency::erase(conn, &values).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
