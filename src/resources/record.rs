//! The write skeleton every resource shares, written once:
//!
//! - create: the body is read and checked first (422 naming every offending field), then
//!   authorise (404 when the parent project does not exist, 403 without the right) → insert;
//! - read: fetch (404) → the caller may see it (drafts are private: 404) → ETag/304;
//! - update: lock the row (404) → authorise (403) → `If-Match` (412) → merge the patch →
//!   validate (422) → authorise what the change asks for (a project moving to another lead) →
//!   store;
//! - delete: lock (404) → authorise (403) → `If-Match` (412) → what still references it (409) →
//!   delete.
//!
//! So a record that does not exist is a 404 for every caller, and a caller without rights gets
//! 403 for any record that does. A resource says only what is its own by implementing
//! [`Record`]: how to fetch, insert, store and delete its row, who may touch it, and what
//! blocks its deletion.

use std::fmt::Display;
use std::future::Future;

use actix_web::dev::Payload;
use actix_web::http::header::EntityTag;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;
use validator::Validate;

use crate::auth::{Access, Caller};
use crate::domain::{Id, ProjectId};
use crate::state::AppState;
use crate::validation;
use crate::web::error::{ApiError, ApiResult, FieldError};
use crate::web::http::{self, IfMatch, NoParams};

/// What every route hands the skeleton: the shared state, the caller and the request itself.
pub struct Ctx {
    pub state: web::Data<AppState>,
    pub caller: Caller,
    pub req: HttpRequest,
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = std::future::Ready<ApiResult<Ctx>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Ctx {
            state: req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .expect("AppState is registered"),
            caller: req
                .extensions()
                .get::<Caller>()
                .cloned()
                .unwrap_or_default(),
            req: req.clone(),
        }))
    }
}

/// The id in a record's URL (its last path parameter) as a `T`: 404 when it is not a UUID. A
/// record's own URL takes no query parameters (400 naming any that is given).
pub struct Key<T>(pub T);

impl<T: Id> FromRequest for Key<T> {
    type Error = ApiError;
    type Future = std::future::Ready<ApiResult<Key<T>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req
            .match_info()
            .iter()
            .last()
            .map(|(_, v)| v)
            .unwrap_or_default();
        std::future::ready(
            http::parse_query::<NoParams>(req.query_string())
                .and_then(|_| http::parse_id(raw).map(Key)),
        )
    }
}

/// The project a route is under (its first path parameter) as a `T`: 404 when it is not a UUID.
pub struct Parent<T>(pub T);

impl<T: Id> FromRequest for Parent<T> {
    type Error = ApiError;
    type Future = std::future::Ready<ApiResult<Parent<T>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let raw = req
            .match_info()
            .iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or_default();
        std::future::ready(http::parse_id(raw).map(Parent))
    }
}

/// A stored record's identity and version: what its strong ETag is made of.
pub trait Versioned {
    fn id(&self) -> Uuid;
    fn version(&self) -> i32;

    /// Strong entity tag: it changes exactly when the version does.
    fn etag(&self) -> EntityTag {
        http::etag(&self.id(), self.version())
    }
}

/// Implements [`Versioned`] for types with `id` and `version` fields.
#[macro_export]
macro_rules! versioned {
    ($($type:ty),+ $(,)?) => {
        $(impl $crate::resources::record::Versioned for $type {
            fn id(&self) -> uuid::Uuid {
                self.id.into()
            }
            fn version(&self) -> i32 {
                self.version
            }
        })+
    };
}

/// Whether a fetch locks the row until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// A plain read (it may run on a replica).
    None,
    /// `SELECT ... FOR UPDATE`: no other writer changes the row until this one commits.
    ForUpdate,
}

/// `query.first(conn)` as an option, with `FOR UPDATE` when `lock` asks for it.
#[macro_export]
macro_rules! first_row {
    ($query:expr, $conn:expr, $lock:expr) => {{
        use diesel::{OptionalExtension as _, QueryDsl as _};
        let result = match $lock {
            $crate::resources::record::Lock::ForUpdate => {
                diesel_async::RunQueryDsl::first($query.for_update(), $conn).await
            }
            $crate::resources::record::Lock::None => {
                diesel_async::RunQueryDsl::first($query, $conn).await
            }
        };
        result
            .optional()
            .map_err($crate::web::error::ApiError::from)
    }};
}

/// Who may change a kind of record (the policy itself is [`Access`], in `auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rights {
    /// Registry-wide records: administrators only.
    Registry,
    /// Parts of a project: those who may edit the project.
    Project,
    /// Outcome numbers: those who may write the project's numbers.
    Metrics,
}

/// What a new record is created under: nothing, or a project.
pub trait Owner: Copy + Send + Sync {
    fn project(self) -> Option<ProjectId>;
}

impl Owner for () {
    fn project(self) -> Option<ProjectId> {
        None
    }
}

impl Owner for ProjectId {
    fn project(self) -> Option<ProjectId> {
        Some(self)
    }
}

/// What a resource says about itself; the skeleton below does the rest. `Self` is the record as
/// the API answers with it.
pub trait Record: Serialize + Versioned + Send + Sized + 'static {
    /// What the record is called in messages ("no organisation with id ...").
    const NAME: &'static str;
    /// The record's kind in the audit log and the change feed (`metric`, `partner`, ...).
    const RESOURCE: &'static str;
    /// Who may create, change and delete it.
    const RIGHTS: Rights;
    /// How a request addresses one record: its id, or an indicator's code.
    type Key: Display + Send + Sync;
    /// The row as stored.
    type Row: Versioned + Send + Sync;
    /// The writable fields: a create's body, and what a merge patch applies to.
    type Input: Serialize + DeserializeOwned + Validate + utoipa::ToSchema + Send + Sync;
    /// What a new record is created under.
    type Parent: Owner;

    /// The row `key` names (`None` when there is none), locked when `lock` says so.
    fn fetch(
        conn: &mut AsyncPgConnection,
        key: &Self::Key,
        lock: Lock,
    ) -> impl Future<Output = ApiResult<Option<Self::Row>>> + Send;

    /// The project the record belongs to: its visibility (drafts are private) and who may
    /// change it follow the project's.
    fn project(_row: &Self::Row) -> Option<ProjectId> {
        None
    }

    /// What changing or deleting the record asks of the caller.
    fn access(row: &Self::Row) -> Access {
        rights(Self::RIGHTS, Self::project(row))
    }

    /// What creating a record under `parent` asks of the caller.
    fn access_new(parent: Self::Parent, _input: &Self::Input) -> Access {
        rights(Self::RIGHTS, parent.project())
    }

    /// What a change to `input` asks beyond [`Record::access`] (a project moving to another
    /// lead organisation).
    fn access_change(_row: &Self::Row, _input: &Self::Input) -> Option<Access> {
        None
    }

    /// The record as answered.
    fn read(
        conn: &mut AsyncPgConnection,
        row: Self::Row,
    ) -> impl Future<Output = ApiResult<Self>> + Send;

    /// The stored record in its writable form (what a patch is merged into).
    fn input(
        conn: &mut AsyncPgConnection,
        row: &Self::Row,
    ) -> impl Future<Output = ApiResult<Self::Input>> + Send;

    /// Stores a new record under `parent`.
    fn insert(
        conn: &mut AsyncPgConnection,
        parent: Self::Parent,
        input: Self::Input,
    ) -> impl Future<Output = ApiResult<Self>> + Send;

    /// Replaces the stored fields of `row` with `input`.
    fn store(
        conn: &mut AsyncPgConnection,
        row: &Self::Row,
        input: Self::Input,
    ) -> impl Future<Output = ApiResult<Self>> + Send;

    /// Deletes `row` (and what is deleted with it).
    fn remove(
        conn: &mut AsyncPgConnection,
        row: &Self::Row,
    ) -> impl Future<Output = ApiResult<()>> + Send;

    /// What still references the record and so blocks its deletion, one entry per kind.
    fn references(
        _conn: &mut AsyncPgConnection,
        _row: &Self::Row,
    ) -> impl Future<Output = ApiResult<Vec<FieldError>>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Where the record is read.
    fn location(&self) -> String;

    /// The 404 for a key that names no record.
    fn not_found(key: &Self::Key) -> ApiError {
        ApiError::not_found(Self::NAME, key)
    }
}

fn rights(rights: Rights, project: Option<ProjectId>) -> Access {
    match (rights, project) {
        (Rights::Project, Some(project)) => Access::EditProject { project },
        (Rights::Metrics, Some(project)) => Access::WriteMetrics { project },
        _ => Access::Registry,
    }
}

/// The storage half of a [`Record`] kept in one table: `fetch` by id (`find`), and `insert`,
/// `store` and `remove` through Diesel's derives on the row (`Selectable`) and the input
/// (`Insertable`, `AsChangeset`). With `parent = column`, a new row also gets its parent's id
/// there; with `key: custom`, the resource writes its own `fetch`; with `; published`, the row
/// is the published record itself (`read` is the row, `input` its writable fields).
#[macro_export]
macro_rules! table_storage {
    (@fetch $table:ident, $row:ty, $key:ty) => {
        async fn fetch(
            conn: &mut diesel_async::AsyncPgConnection,
            id: &$key,
            lock: $crate::resources::record::Lock,
        ) -> $crate::web::error::ApiResult<Option<$row>> {
            use $crate::domain::Id as _;
            let query = diesel::QueryDsl::select(
                diesel::QueryDsl::find($crate::schema::$table::table, id.uuid()),
                <$row as diesel::SelectableHelper<diesel::pg::Pg>>::as_select(),
            );
            $crate::first_row!(query, conn, lock)
        }
    };
    (@write $table:ident, $row:ty, $id:ty, ($($parent:tt)*)) => {
        async fn insert(
            conn: &mut diesel_async::AsyncPgConnection,
            parent: Self::Parent,
            input: Self::Input,
        ) -> $crate::web::error::ApiResult<Self> {
            use $crate::domain::Id as _;
            let id = diesel::ExpressionMethods::eq($crate::schema::$table::id, <$id>::new_v7().uuid());
            let row: $row = diesel_async::RunQueryDsl::get_result(
                diesel::query_builder::InsertStatement::returning(
                    diesel::insert_into($crate::schema::$table::table)
                        .values($crate::table_storage!(@values $table, id, parent, &input, $($parent)*)),
                    <$row as diesel::SelectableHelper<diesel::pg::Pg>>::as_returning(),
                ),
                conn,
            )
            .await?;
            <Self as $crate::resources::record::Record>::read(conn, row).await
        }

        async fn store(
            conn: &mut diesel_async::AsyncPgConnection,
            row: &$row,
            input: Self::Input,
        ) -> $crate::web::error::ApiResult<Self> {
            let row: $row = diesel_async::RunQueryDsl::get_result(
                diesel::query_builder::UpdateStatement::returning(
                    diesel::update(diesel::QueryDsl::find($crate::schema::$table::table, row.id))
                        .set(&input),
                    <$row as diesel::SelectableHelper<diesel::pg::Pg>>::as_returning(),
                ),
                conn,
            )
            .await?;
            <Self as $crate::resources::record::Record>::read(conn, row).await
        }

        async fn remove(
            conn: &mut diesel_async::AsyncPgConnection,
            row: &$row,
        ) -> $crate::web::error::ApiResult<()> {
            diesel_async::RunQueryDsl::execute(
                diesel::delete(diesel::QueryDsl::find($crate::schema::$table::table, row.id)),
                conn,
            )
            .await?;
            Ok(())
        }
    };
    (@values $table:ident, $id:expr, $parent:expr, $input:expr, ) => {{
        let () = $parent;
        ($id, $input)
    }};
    (@values $table:ident, $id:expr, $parent:expr, $input:expr, parent = $column:ident) => {
        (
            $id,
            diesel::ExpressionMethods::eq($crate::schema::$table::$column, $parent.0),
            $input,
        )
    };
    (@published $row:ty) => {
        async fn read(
            _: &mut diesel_async::AsyncPgConnection,
            row: $row,
        ) -> $crate::web::error::ApiResult<Self> {
            Ok(row)
        }

        async fn input(
            _: &mut diesel_async::AsyncPgConnection,
            row: &$row,
        ) -> $crate::web::error::ApiResult<Self::Input> {
            $crate::resources::record::writable(row)
        }
    };
    ($table:ident, row: $row:ty, id: $id:ty $(, parent = $column:ident)? $(; $published:ident)?) => {
        $crate::table_storage!(@fetch $table, $row, $id);
        $crate::table_storage!(@write $table, $row, $id, ($(parent = $column)?));
        $($crate::table_storage!(@$published $row);)?
    };
    ($table:ident, row: $row:ty, id: $id:ty, key: custom $(, parent = $column:ident)? $(; $published:ident)?) => {
        $crate::table_storage!(@write $table, $row, $id, ($(parent = $column)?));
        $($crate::table_storage!(@$published $row);)?
    };
}

fn not_found<R: Record>(key: &R::Key) -> ApiError {
    R::not_found(key)
}

/// `POST`: a new record under `parent`; 201 with `Location` and `ETag`.
pub async fn create<R: Record>(
    ctx: &Ctx,
    parent: R::Parent,
    input: R::Input,
) -> ApiResult<HttpResponse> {
    let caller = &ctx.caller;
    let mut conn = ctx.state.writer(caller).await?;
    let record = conn
        .transaction(async |conn| -> ApiResult<R> {
            caller
                .authorize(conn, R::access_new(parent, &input))
                .await?;
            validation::validate(&input)?;
            R::insert(conn, parent, input).await
        })
        .await?;
    Ok(http::created(record.location(), record.etag(), &record))
}

/// `GET` one record: 200 with its strong `ETag`, or 304 when `If-None-Match` has it.
pub async fn find<R: Record>(ctx: &Ctx, key: R::Key) -> ApiResult<HttpResponse> {
    let (caller, req) = (&ctx.caller, &ctx.req);
    let mut conn = ctx.state.reader(caller).await?;
    let row = R::fetch(&mut conn, &key, Lock::None)
        .await?
        .ok_or_else(|| not_found::<R>(&key))?;
    if let Some(project) = R::project(&row) {
        caller
            .ensure_visible(&mut conn, project)
            .await
            .map_err(|_| not_found::<R>(&key))?;
    }
    let tag = row.etag();
    if http::not_modified(req, &tag) {
        return Ok(http::not_modified_response(tag));
    }
    let record = R::read(&mut conn, row).await?;
    Ok(http::record_response(req, tag, &record))
}

/// `PATCH` (JSON Merge Patch): 200 with the changed record and its new `ETag`.
pub async fn update<R: Record>(
    ctx: &Ctx,
    key: R::Key,
    patch: serde_json::Map<String, serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let caller = &ctx.caller;
    let precondition = IfMatch::from_request(&ctx.req);
    let mut conn = ctx.state.writer(caller).await?;
    let record = conn
        .transaction(async |conn| -> ApiResult<R> {
            let row = R::fetch(conn, &key, Lock::ForUpdate)
                .await?
                .ok_or_else(|| not_found::<R>(&key))?;
            caller.authorize(conn, R::access(&row)).await?;
            precondition.check(&row.etag())?;
            let input = http::merge(&R::input(conn, &row).await?, patch)?;
            validation::validate(&input)?;
            if let Some(access) = R::access_change(&row, &input) {
                caller.authorize(conn, access).await?;
            }
            R::store(conn, &row, input).await
        })
        .await?;
    let tag = record.etag();
    Ok(http::json_response(HttpResponse::Ok(), &record, Some(tag)))
}

/// `DELETE`: 204, or 409 naming what still references the record.
pub async fn delete<R: Record>(ctx: &Ctx, key: R::Key) -> ApiResult<HttpResponse> {
    let caller = &ctx.caller;
    let precondition = IfMatch::from_request(&ctx.req);
    let mut conn = ctx.state.writer(caller).await?;
    conn.transaction(async |conn| -> ApiResult<()> {
        let row = R::fetch(conn, &key, Lock::ForUpdate)
            .await?
            .ok_or_else(|| not_found::<R>(&key))?;
        caller.authorize(conn, R::access(&row)).await?;
        precondition.check(&row.etag())?;
        let references = R::references(conn, &row).await?;
        if !references.is_empty() {
            let what: Vec<&str> = references.iter().map(|r| r.message.as_str()).collect();
            return Err(ApiError::Conflict {
                detail: format!("the {} is still referenced: {}", R::NAME, what.join("; ")),
                errors: references,
            });
        }
        R::remove(conn, &row).await
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Fields of a published record that are not its writable fields: who and when, not what.
const BOOKKEEPING: [&str; 5] = ["id", "project_id", "created_at", "updated_at", "version"];

/// The writable form of a published record whose other fields are the writable ones: its
/// JSON without the bookkeeping fields (and without embedded records, which are left out when
/// absent), read back as the input type.
pub fn writable<I: DeserializeOwned>(record: &impl Serialize) -> ApiResult<I> {
    let mut value = serde_json::to_value(record).map_err(|e| ApiError::Internal(e.into()))?;
    if let Some(fields) = value.as_object_mut() {
        for field in BOOKKEEPING {
            fields.remove(field);
        }
    }
    serde_json::from_value(value).map_err(|e| ApiError::Internal(e.into()))
}

/// What an upsert by natural key did (the seed loader's unit of account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
    Unchanged,
}

/// Stores `input` as the record `existing` names (comparing first, so an equal record is left
/// untouched and keeps its version) or as a new one under `parent`; validated like an API
/// write. Returns the record's id.
pub async fn upsert<R: Record>(
    conn: &mut AsyncPgConnection,
    existing: Option<R::Row>,
    parent: R::Parent,
    input: R::Input,
) -> ApiResult<(Uuid, Upserted)>
where
    R::Input: PartialEq,
{
    validation::validate(&input)?;
    match existing {
        None => Ok((
            R::insert(conn, parent, input).await?.id(),
            Upserted::Created,
        )),
        Some(row) if R::input(conn, &row).await? == input => Ok((row.id(), Upserted::Unchanged)),
        Some(row) => Ok((R::store(conn, &row, input).await?.id(), Upserted::Updated)),
    }
}

/// Says what the writes of the current transaction are, beyond an edit (`restored`,
/// `verified`, `contact_erased`): the audit trigger records it beside each change.
pub async fn mark_event(conn: &mut AsyncPgConnection, event: &str) -> ApiResult<()> {
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("SELECT set_config('kopa.audit_event', $1, true)")
            .bind::<diesel::sql_types::Text, _>(event),
        conn,
    )
    .await?;
    Ok(())
}
