//! The shared machinery of the public lists: a small SQL builder with numbered binds, the
//! visibility rules as SQL, `sort=` parsing into keyset orders, `q=` search, `include=`
//! parsing, and the keyset page/count/export-chunk reads every list uses.
//!
//! Lists are built as SQL text rather than Diesel's typed DSL because their shape varies with
//! the request (the sort key, a relevance expression, optional joins) in ways the typed DSL
//! can only express with one boxed query per combination. Every value still travels as a bind
//! parameter; only fixed fragments from this crate are ever spliced into the text.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types;
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Visibility;
use crate::web::error::{ApiError, ApiResult};
use crate::web::http::Many;
use crate::web::pagination;

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone)]
pub enum Value {
    Uuid(Uuid),
    Uuids(Vec<Uuid>),
    Text(String),
    Texts(Vec<String>),
    Date(NaiveDate),
    Time(DateTime<Utc>),
    Int(i64),
}

/// SQL text and the values of its placeholders, in order.
#[derive(Debug, Default, Clone)]
pub struct Sql {
    text: String,
    binds: Vec<Value>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            binds: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Registers a value and returns its placeholder (`$n`), to be used any number of times.
    pub fn bind(&mut self, value: Value) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// This statement as a subquery: `prefix` + text + `suffix`, with the same binds.
    pub fn wrap(mut self, prefix: &str, suffix: &str) -> Self {
        self.text = format!("{prefix}{}{suffix}", self.text);
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut query = diesel::sql_query(self.text).into_boxed::<Pg>();
        for value in self.binds {
            query = match value {
                Value::Uuid(v) => query.bind::<sql_types::Uuid, _>(v),
                Value::Uuids(v) => query.bind::<sql_types::Array<sql_types::Uuid>, _>(v),
                Value::Text(v) => query.bind::<sql_types::Text, _>(v),
                Value::Texts(v) => query.bind::<sql_types::Array<sql_types::Text>, _>(v),
                Value::Date(v) => query.bind::<sql_types::Date, _>(v),
                Value::Time(v) => query.bind::<sql_types::Timestamptz, _>(v),
                Value::Int(v) => query.bind::<sql_types::BigInt, _>(v),
            };
        }
        query
    }
}

/// A `WHERE` clause under construction: conditions joined with AND over binds shared with the
/// rest of the statement.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    sql: Sql,
    conditions: Vec<String>,
}

impl Filters {
    pub fn bind(&mut self, value: Value) -> String {
        self.sql.bind(value)
    }

    pub fn and(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// `column = value` when a value is given.
    pub fn equal(&mut self, column: &str, value: Option<Value>) {
        if let Some(value) = value {
            let value = self.bind(value);
            self.and(format!("{column} = {value}"));
        }
    }

    /// `column = ANY(values)` when values are given (a multi-valued filter: any of them).
    pub fn any_text(&mut self, column: &str, values: &Option<Many<String>>) {
        if let Some(values) = values {
            let values = self.bind(Value::Texts(values.values()));
            self.and(format!("{column} = ANY({values})"));
        }
    }

    /// `column = ANY(ids)` when ids are given.
    pub fn any_id(&mut self, column: &str, ids: &Option<Many<Uuid>>) {
        if let Some(ids) = ids {
            let ids = self.bind(Value::Uuids(ids.values()));
            self.and(format!("{column} = ANY({ids})"));
        }
    }

    /// `column && values` (the array column holds any of them) when values are given.
    pub fn overlaps(&mut self, column: &str, values: &Option<Many<String>>) {
        if let Some(values) = values {
            let values = self.bind(Value::Texts(values.values()));
            self.and(format!("{column} && {values}"));
        }
    }

    /// `WHERE a AND b ...` (empty when there are no conditions).
    pub fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// Restricts `project_column` to projects the caller may see.
    pub fn visible(&mut self, visibility: Visibility, project_column: &str) {
        let mut sql = std::mem::take(&mut self.sql);
        if let Some(condition) =
            visibility.project_condition(project_column, |org| sql.bind(Value::Uuid(org)))
        {
            self.and(condition);
        }
        self.sql = sql;
    }

    /// The binds so far, with no text: for statements that place the clause themselves.
    pub fn binds_only(&self) -> Sql {
        self.sql.clone()
    }

    /// Restricts the projects table itself (aliased `alias`) to what the caller may see.
    pub fn visible_projects(&mut self, visibility: Visibility, alias: &str) {
        let mut sql = std::mem::take(&mut self.sql);
        if let Some(condition) = visibility.condition(alias, |org| sql.bind(Value::Uuid(org))) {
            self.and(condition);
        }
        self.sql = sql;
    }

    /// A statement that starts with `select_from` and ends with this WHERE clause.
    pub fn statement(&self, select_from: &str) -> Sql {
        let mut sql = self.sql.clone();
        sql.push(select_from).push(&self.where_clause());
        sql
    }
}

/// A row read with its sort key and id (as text), for building the next cursor.
#[derive(QueryableByName)]
pub struct Keyed<R> {
    #[diesel(embed)]
    pub record: R,
    #[diesel(sql_type = sql_types::Nullable<sql_types::Text>)]
    pub sort_key: Option<String>,
    #[diesel(sql_type = sql_types::Text)]
    pub sort_id: String,
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = sql_types::BigInt)]
    total: i64,
}

impl<R> Keyed<R> {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            key: self.sort_key.clone(),
            id: self.sort_id.clone(),
        }
    }
}

/// The select list of a Diesel `Selectable` over `table`, qualified with `alias` instead: the
/// columns a row type reads and no others (generated search columns stay in the database).
pub fn columns<S>(select: S, table: &str, alias: &str) -> String
where
    S: diesel::query_builder::QueryFragment<Pg>,
{
    let sql = diesel::debug_query::<Pg, _>(&select).to_string();
    let list = sql
        .strip_prefix("SELECT ")
        .and_then(|rest| rest.split(" FROM ").next())
        .unwrap_or("*");
    list.replace(&format!("\"{table}\"."), &format!("{alias}."))
}

/// A table a list reads: its name, the alias its SQL uses, the columns its row type reads, its
/// sort orders and the type of its `id` column (the keyset tie-breaker).
pub struct Source {
    pub table: &'static str,
    pub alias: &'static str,
    pub columns: &'static std::sync::LazyLock<String>,
    pub sorts: &'static [SortField],
    /// The order without `sort=` (and without `q`).
    pub default_sort: &'static str,
    pub id_type: &'static str,
}

/// The columns of `Row` (a Diesel `Selectable` of `$table`) as `alias.column`, computed once.
#[macro_export]
macro_rules! list_columns {
    ($table:ident, $row:ty, $alias:literal) => {
        std::sync::LazyLock::new(|| {
            $crate::web::listing::columns(
                diesel::QueryDsl::select(
                    $crate::schema::$table::table,
                    <$row as diesel::SelectableHelper<diesel::pg::Pg>>::as_select(),
                ),
                stringify!($table),
                $alias,
            )
        })
    };
}

impl Source {
    /// Parses `sort=` against this table's orders (`relevance` when searching).
    pub fn order(&self, raw: Option<&str>, search: Option<&str>) -> ApiResult<Order> {
        Order::parse(raw, self.sorts, search, self.default_sort)
    }
}

/// A list's query parameters: `limit`, `cursor` and `count` (documented once here), then the
/// list's own fields. Implements [`PageParams`]. With a second struct, the fields after `;`
/// are the list's filters, shared with its export operation: they are declared once and the
/// export's parameters (`From` the list's) are generated from them.
#[macro_export]
macro_rules! list_params {
    ($(#[$meta:meta])* pub struct $name:ident ($limit_doc:tt) { $($fields:tt)* }) => {
        $crate::list_params!(@list $(#[$meta])* $name ($limit_doc) { $($fields)* });
    };
    (
        $(#[$meta:meta])* pub struct $name:ident ($limit_doc:tt) { $($own:tt)* }
        $(#[$emeta:meta])* pub struct $export:ident {
            $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $crate::list_params!(@list $(#[$meta])* $name ($limit_doc) {
            $($own)*
            $($(#[$fmeta])* pub $field: $ty,)*
        });

        $(#[$emeta])*
        #[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $export {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl From<&$name> for $export {
            fn from(list: &$name) -> Self {
                $export {
                    $($field: list.$field.clone(),)*
                }
            }
        }
    };
    (@list $(#[$meta:meta])* $name:ident ($limit_doc:tt) { $($fields:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            #[doc = $limit_doc]
            #[param(minimum = 1, maximum = 200, default = 50)]
            pub limit: Option<i64>,
            /// Opaque cursor from a previous page's `next_cursor`.
            pub cursor: Option<String>,
            /// Include the total number of matching records.
            pub count: Option<bool>,
            $($fields)*
        }

        impl $crate::web::listing::PageParams for $name {
            fn page_params(&self) -> (Option<i64>, Option<&str>, Option<bool>) {
                (self.limit, self.cursor.as_deref(), self.count)
            }
        }
    };
}

/// The paging parameters every list takes (see [`list_params!`]).
pub trait PageParams {
    fn page_params(&self) -> (Option<i64>, Option<&str>, Option<bool>);
}

/// What a list request says about its page: how many rows, after which one, whether to count.
#[derive(Debug, Clone)]
pub struct Paging {
    pub limit: i64,
    pub cursor: Option<Cursor>,
    pub count: bool,
}

impl Paging {
    /// The page `params` ask for, in `order` over `source` (a lower limit with `include`).
    pub fn of(
        params: &impl PageParams,
        source: &Source,
        order: &Order,
        including: bool,
    ) -> ApiResult<Self> {
        let (limit, cursor, count) = params.page_params();
        Paging::parse(source, order, limit, cursor, count, including)
    }

    /// Checks `limit` (lower with `include`) and decodes `cursor` for `order` over `source`.
    pub fn parse(
        source: &Source,
        order: &Order,
        limit: Option<i64>,
        cursor: Option<&str>,
        count: Option<bool>,
        including: bool,
    ) -> ApiResult<Self> {
        Ok(Paging {
            limit: self::limit(limit, including)?,
            cursor: Cursor::decode(cursor, order, source.id_type)?,
            count: count.unwrap_or(false),
        })
    }
}

/// One page of rows, before they become records.
pub struct Rows<R> {
    pub rows: Vec<R>,
    next: Option<String>,
    total: Option<i64>,
}

impl<R> Rows<R> {
    /// The page of records made from these rows (in the same order).
    pub fn page<T: utoipa::ToSchema>(self, data: Vec<T>) -> pagination::Page<T> {
        pagination::Page {
            data,
            next_cursor: self.next,
            total: self.total,
            facets: None,
        }
    }

    /// The page of records made one by one from these rows.
    pub fn map<T: utoipa::ToSchema>(mut self, f: impl FnMut(R) -> T) -> pagination::Page<T> {
        let data = std::mem::take(&mut self.rows).into_iter().map(f).collect();
        self.page(data)
    }
}

/// One page of a list: `paging.limit` rows after the cursor in `order`, the cursor of the next
/// page, and the total when asked for. Every list runs on this.
pub async fn page<R>(
    conn: &mut AsyncPgConnection,
    source: &Source,
    filters: &Filters,
    order: &Order,
    paging: &Paging,
) -> ApiResult<Rows<R>>
where
    R: diesel::QueryableByName<Pg> + Send + 'static,
{
    let (rows, next) = chunk(
        conn,
        source,
        filters,
        order,
        paging.cursor.clone(),
        paging.limit,
    )
    .await?;
    let total = match paging.count {
        true => Some(count(conn, source, filters).await?),
        false => None,
    };
    Ok(Rows {
        rows,
        next: next.map(|c| pagination::encode_cursor(&c, &order.name)),
        total,
    })
}

/// Up to `limit + 1` rows after `cursor` in `order`, the extra row only telling that there is
/// more.
async fn fetch<R>(
    conn: &mut AsyncPgConnection,
    source: &Source,
    filters: &Filters,
    order: &Order,
    cursor: Option<&Cursor>,
    limit: i64,
) -> ApiResult<Vec<Keyed<R>>>
where
    R: diesel::QueryableByName<Pg> + Send + 'static,
{
    let Source {
        table,
        alias,
        columns,
        id_type,
        ..
    } = source;
    let id = format!("{alias}.id");
    let mut filters = filters.clone();
    order.after(&mut filters, cursor, &id, id_type);
    let mut sql = filters.statement(&format!(
        "SELECT {}, {}, {id}::text AS sort_id FROM {table} {alias}",
        columns.as_str(),
        order.key_column()
    ));
    let limit = sql.bind(Value::Int(limit + 1));
    sql.push(&order.order_by(&id))
        .push(&format!(" LIMIT {limit}"));
    Ok(sql.into_query().load(conn).await?)
}

/// Up to `size` rows after `cursor` and the cursor of the rows after them (`None` at the end):
/// a page, or one chunk of a streamed export.
pub async fn chunk<R>(
    conn: &mut AsyncPgConnection,
    source: &Source,
    filters: &Filters,
    order: &Order,
    cursor: Option<Cursor>,
    size: i64,
) -> ApiResult<(Vec<R>, Option<Cursor>)>
where
    R: diesel::QueryableByName<Pg> + Send + 'static,
{
    let mut rows: Vec<Keyed<R>> =
        fetch(conn, source, filters, order, cursor.as_ref(), size).await?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let next = if more {
        rows.last().map(Keyed::cursor)
    } else {
        None
    };
    Ok((rows.into_iter().map(|k| k.record).collect(), next))
}

/// How many `source` rows match `filters`.
pub async fn count(
    conn: &mut AsyncPgConnection,
    source: &Source,
    filters: &Filters,
) -> ApiResult<i64> {
    let total: Total = filters
        .statement(&format!(
            "SELECT count(*) AS total FROM {} {}",
            source.table, source.alias
        ))
        .into_query()
        .get_result(conn)
        .await?;
    Ok(total.total)
}

/// What a sort key's values are, so a cursor's text can be cast back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Date,
    Time,
    Text,
    Float,
}

impl KeyType {
    /// Whether `text` is a value of this type as PostgreSQL prints it.
    fn reads(self, text: &str) -> bool {
        match self {
            KeyType::Text => true,
            KeyType::Date => {
                matches!(text, "infinity" | "-infinity")
                    || NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
            }
            KeyType::Time => DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z").is_ok(),
            KeyType::Float => text.parse::<f64>().is_ok(),
        }
    }

    fn cast(self) -> &'static str {
        match self {
            KeyType::Date => "date",
            KeyType::Time => "timestamptz",
            KeyType::Text => "text",
            KeyType::Float => "float8",
        }
    }
}

/// One field a list may be sorted by.
#[derive(Debug, Clone, Copy)]
pub struct SortField {
    pub name: &'static str,
    /// The key expression when sorting ascending and descending (they differ where unknown
    /// values must sort last both ways); both are indexed together with the id.
    pub ascending: &'static str,
    pub descending: &'static str,
    pub key_type: KeyType,
}

impl SortField {
    /// A sort on a NOT NULL column.
    pub const fn column(name: &'static str, column: &'static str, key_type: KeyType) -> Self {
        SortField {
            name,
            ascending: column,
            descending: column,
            key_type,
        }
    }
}

/// A parsed `sort=`: the key expression (none = by id only), its direction and the name the
/// cursor records so it cannot be replayed under another order.
#[derive(Debug, Clone)]
pub struct Order {
    pub name: String,
    key: Option<(String, KeyType)>,
    descending: bool,
}

/// The relevance order of a search (`sort=relevance`, the default with `q`).
pub const RELEVANCE: &str = "relevance";

impl Order {
    /// Parses `sort` against `fields` (`name` or `-name`; `id`/`-id` always allowed).
    /// `search` is the relevance expression when the request has `q`.
    pub fn parse(
        raw: Option<&str>,
        fields: &[SortField],
        search: Option<&str>,
        default: &str,
    ) -> ApiResult<Self> {
        let raw = match raw {
            Some(raw) => raw,
            None if search.is_some() => RELEVANCE,
            None => default,
        };
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let key = if name == "id" {
            None
        } else if name == RELEVANCE && !descending {
            // Best first: the key is negated so every order is "ascending key, then id".
            // Without `q` every record is equally relevant and the id decides.
            search.map(|expr| (format!("(-({expr}))"), KeyType::Float))
        } else {
            let Some(field) = fields.iter().find(|f| f.name == name) else {
                let mut names: Vec<&str> = vec!["id"];
                names.extend(fields.iter().map(|f| f.name));
                names.push(RELEVANCE);
                return Err(ApiError::bad_param(
                    "sort",
                    "invalid",
                    format!(
                        "cannot sort by `{name}`; sort by one of {} (prefix `-` for descending)",
                        names.join(", ")
                    ),
                ));
            };
            let expr = if descending {
                field.descending
            } else {
                field.ascending
            };
            Some((expr.to_owned(), field.key_type))
        };
        Ok(Order {
            name: raw.to_owned(),
            key,
            descending,
        })
    }

    /// `<key> AS sort_key` for the select list (NULL when ordering by id alone).
    pub fn key_column(&self) -> String {
        match &self.key {
            Some((expr, _)) => format!("({expr})::text AS sort_key"),
            None => "NULL::text AS sort_key".to_owned(),
        }
    }

    /// Adds the keyset condition for the page after `cursor`.
    fn after(
        &self,
        filters: &mut Filters,
        cursor: Option<&Cursor>,
        id_column: &str,
        id_type: &str,
    ) {
        let Some(cursor) = cursor else { return };
        let op = if self.descending { "<" } else { ">" };
        let id = format!(
            "{}::{id_type}",
            filters.bind(Value::Text(cursor.id.clone()))
        );
        match (&self.key, &cursor.key) {
            (Some((expr, key_type)), Some(key)) => {
                let key = filters.bind(Value::Text(key.clone()));
                filters.and(format!(
                    "(({expr}), {id_column}) {op} ({key}::{}, {id})",
                    key_type.cast()
                ));
            }
            _ => filters.and(format!("{id_column} {op} {id}")),
        }
    }

    /// `ORDER BY` clause with the id as the tie-breaker.
    pub fn order_by(&self, id_column: &str) -> String {
        let direction = if self.descending { "DESC" } else { "ASC" };
        match &self.key {
            Some((expr, _)) => format!(" ORDER BY ({expr}) {direction}, {id_column} {direction}"),
            None => format!(" ORDER BY {id_column} {direction}"),
        }
    }
}

/// A position in a sorted list: the last row's sort key and id (both as text).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(rename = "i")]
    pub id: String,
}

impl Cursor {
    /// A cursor this list issued under `order` (400 otherwise). Its key and id must read as the
    /// sort key's and the id column's types, so a forged cursor is refused here, not by SQL.
    pub fn decode(raw: Option<&str>, order: &Order, id_type: &str) -> ApiResult<Option<Cursor>> {
        let Some(cursor) = pagination::decode_cursor::<Cursor>(raw, &order.name)? else {
            return Ok(None);
        };
        let id_ok = match id_type {
            "uuid" => Uuid::parse_str(&cursor.id).is_ok(),
            _ => cursor.id.parse::<i64>().is_ok(),
        };
        let key_ok = match (&order.key, &cursor.key) {
            (Some((_, key_type)), Some(key)) => key_type.reads(key),
            (None, None) => true,
            _ => false,
        };
        if id_ok && key_ok {
            Ok(Some(cursor))
        } else {
            Err(ApiError::bad_param(
                "cursor",
                "invalid",
                "cursor is not one this list returned; start again without it",
            ))
        }
    }
}

/// A parsed `q=`: a word query (each word a prefix, common Latvian endings dropped so
/// `integrācijas` finds `integrācija`) and the raw text for trigram similarity.
#[derive(Debug, Clone)]
pub struct Search {
    words: String,
    text: String,
}

/// Inflection endings dropped from search words longer than the ending plus three letters,
/// longest first (noun and adjective case endings of the Latvian declensions).
const ENDINGS: &[&str] = &[
    "ajiem", "ajām", "ajam", "ajai", "iem", "ām", "ēm", "īm", "os", "as", "es", "is", "us", "ai",
    "ei", "am", "em", "im", "um", "ij", "a", "e", "i", "u", "s", "š", "ā", "ē", "ī", "o",
];

impl Search {
    pub fn parse(raw: Option<&str>) -> ApiResult<Option<Search>> {
        let Some(raw) = raw else { return Ok(None) };
        if raw.is_empty() {
            return Err(ApiError::bad_param("q", "invalid", "q must not be empty"));
        }
        if raw.chars().count() > 200 {
            return Err(ApiError::bad_param(
                "q",
                "too_long",
                "q is at most 200 characters",
            ));
        }
        let words = raw
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("{}:*", stem(&w.to_lowercase())))
            .collect::<Vec<_>>()
            .join(" & ");
        Ok(Some(Search {
            words,
            text: raw.to_owned(),
        }))
    }

    /// Adds the match condition over `alias.search_vector` (words, prefix-matched) or
    /// `alias.search_text` (folded text, trigram word similarity for typos) and returns the
    /// relevance expression (higher is better: weighted word rank; typo-only matches rank 0).
    /// A query without letters or digits matches nothing.
    pub fn apply(&self, filters: &mut Filters, alias: &str) -> String {
        if self.words.is_empty() {
            filters.and("false".to_owned());
            // Not a bare integer: in ORDER BY that would mean a column position.
            return "0::float8".to_owned();
        }
        let words = filters.bind(Value::Text(self.words.clone()));
        let text = filters.bind(Value::Text(self.text.clone()));
        let query = format!("to_tsquery('simple'::regconfig, kopa_fold({words}))");
        filters.and(format!(
            "({alias}.search_vector @@ {query} OR kopa_fold({text}) <% {alias}.search_text)"
        ));
        format!("ts_rank({alias}.search_vector, {query})::float8")
    }
}

fn stem(word: &str) -> String {
    let letters = word.chars().count();
    for ending in ENDINGS {
        let ending_letters = ending.chars().count();
        if letters >= ending_letters + 4 && word.ends_with(ending) {
            return word[..word.len() - ending.len()].to_owned();
        }
    }
    word.to_owned()
}

/// Parses a comma-separated `include=` against the names a resource can embed.
pub fn parse_include<T: Copy>(raw: Option<&str>, allowed: &[(&str, T)]) -> ApiResult<Vec<T>> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let mut chosen = Vec::new();
    for name in raw.split(',') {
        match allowed.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => chosen.push(*value),
            None => {
                let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                return Err(ApiError::bad_param(
                    "include",
                    "invalid",
                    format!(
                        "cannot include `{name}`; include any of {}",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(chosen)
}

/// The largest page a list with embedded records serves: every embedded list is complete, so
/// the page is what bounds the response.
pub const MAX_LIMIT_WITH_INCLUDE: i64 = 50;

/// `limit`, capped lower when records embed others.
pub fn limit(raw: Option<i64>, including: bool) -> ApiResult<i64> {
    let limit = pagination::limit(raw)?;
    if including && limit > MAX_LIMIT_WITH_INCLUDE {
        return Err(ApiError::bad_param(
            "limit",
            "out_of_range",
            format!("with include, limit is at most {MAX_LIMIT_WITH_INCLUDE}"),
        ));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_latvian_endings_but_keep_short_words() {
        assert_eq!(stem("integrācijas"), "integrācij");
        assert_eq!(stem("ilukstes"), "ilukst");
        assert_eq!(stem("dzīve"), "dzīv");
        assert_eq!(stem("rīga"), "rīga");
        assert_eq!(stem("2013"), "2013");
    }

    #[test]
    fn search_words_are_prefixes_without_endings() {
        assert_eq!(Search::parse(Some(" -- ")).unwrap().unwrap().words, "");
        let search = Search::parse(Some("Ilūkstes novads")).unwrap().unwrap();
        assert_eq!(search.words, "ilūkst:* & novad:*");
    }
}
