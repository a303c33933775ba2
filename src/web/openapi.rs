//! The OpenAPI 3.1 document: the base (info, tags, shared schemas) plus a finishing pass that
//! adds the problem responses every operation can give, so each handler declares only its own.

use serde_json::{json, Map, Value};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};
use utoipa::OpenApi as _;

use crate::web::error::{FieldError, Problem};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Kopa",
        description = "Open registry of civil-society and social-integration projects: who runs, funds and \
partners in them, what they do and the outcome numbers they achieve.\n\n\
Conventions: JSON bodies with `snake_case` fields; UUID v7 ids; RFC 3339 timestamps in UTC; dates as `YYYY-MM-DD`. \
Every record has `id`, `created_at`, `updated_at` and `version` (+1 on every change). Single reads return a strong \
`ETag` (`If-None-Match` gives 304); `PATCH` and `DELETE` accept `If-Match` and answer 412 when it is stale. \
`PATCH` bodies are JSON Merge Patch (RFC 7396). Unknown body fields and unknown query parameters are rejected, \
never ignored. Lists use keyset pagination: `limit` (1-200, default 50) and the opaque `cursor` from the previous \
page's `next_cursor` (also given as a `Link: <...>; rel=\"next\"` header).\n\n\
Errors are RFC 9457 `application/problem+json`. 400: malformed request (bad JSON syntax, bad or unknown query \
parameter). 404: no such resource (a malformed id in a path is also a 404). 405: method not supported on the path \
(`Allow` lists the supported ones). 409: conflicts with stored data (unique keys, references). 412: stale `If-Match`. \
413: body too large. 415: wrong `Content-Type`. 422: well-formed body that breaks a rule; `errors` lists every \
broken rule with its field path (e.g. `funding[1].share_percent`); besides the rules the schemas state, 422 \
also covers what JSON Schema cannot say: references to records that do not exist, codes missing from their \
vocabulary, cross-field rules (a period must not end before it starts) and text containing NUL characters. \
5xx problems name no internals; they carry a `request_id` to quote.\n\n\
Data licence: the registry's data is published under Creative Commons Attribution 4.0 International (CC BY 4.0, \
https://creativecommons.org/licenses/by/4.0/; `x-data-license`); every read of it says so in a \
`Link: <https://creativecommons.org/licenses/by/4.0/>; rel=\"license\"` header, and so does every export. \
`info.license` is the code's licence. Texts quoted from sources keep their sources' terms: each source \
(`/v1/sources`) says which in `terms`.",
        license(name = "MIT", identifier = "MIT"),
        version = env!("CARGO_PKG_VERSION"),
    ),
    tags(
        (name = "organisations", description = "Bodies that run, fund, administer or partner in projects"),
        (name = "programmes", description = "Funding programmes and instruments"),
        (name = "projects", description = "Funded undertakings, with their funding lines"),
        (name = "partners", description = "Organisations taking part in a project, with their role"),
        (name = "activities", description = "What a project does: courses, events, meetings, research..."),
        (name = "indicators", description = "Catalogue of outcome-number kinds, so numbers add up across projects"),
        (name = "metrics", description = "Outcome numbers: indicator x project (x activity) x period (x target group)"),
        (name = "stats", description = "Indicator totals grouped by programme, organisation, region, year or target group"),
        (name = "changes", description = "Feed of every create, update and delete, for mirrors"),
        (name = "exports", description = "Whole filtered lists as CSV, each read from one snapshot of the registry"),
        (name = "vocabularies", description = "Controlled vocabularies with labels"),
        (name = "territories", description = "Latvia's administrative territories (ATVK), with points and today's successors"),
        (name = "sources", description = "The pages and documents records rest on, and the terms of their texts"),
        (name = "api-keys", description = "API keys (admin), and a key's own rotation"),
        (name = "webhooks", description = "Subscriptions told of changes, signed the Standard Webhooks way"),
        (name = "operations", description = "Liveness, readiness and Prometheus metrics"),
    ),
    components(schemas(Problem, FieldError, crate::web::csv_export::Format, crate::domain::language::Lang))
)]
struct ApiDoc;

pub fn base() -> OpenApi {
    ApiDoc::openapi()
}

fn problem(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

const STANDARD: [(&str, &str, &str); 10] = [
    (
        "400",
        "BadRequest",
        "Malformed request: bad JSON syntax, or a bad or unknown query parameter",
    ),
    (
        "401",
        "Unauthorized",
        "No API key where one is needed, or a key that is unknown, revoked or expired (see `WWW-Authenticate`)",
    ),
    (
        "403",
        "Forbidden",
        "The key lacks the scope, or its organisation may not change this record",
    ),
    (
        "429",
        "TooManyRequests",
        "Rate limit reached; retry after `Retry-After` seconds (`RateLimit-*` headers tell the budget)",
    ),
    ("404", "NotFound", "No such resource"),
    ("413", "PayloadTooLarge", "Request body too large"),
    (
        "415",
        "UnsupportedMediaType",
        "Wrong Content-Type for the request body",
    ),
    (
        "422",
        "ValidationFailed",
        "The body breaks a rule; `errors` names every offending field",
    ),
    (
        "500",
        "InternalError",
        "Unexpected error; the body carries only a request id",
    ),
    (
        "503",
        "Unavailable",
        "The database is unreachable; retry after `Retry-After` seconds",
    ),
];

/// Adds the shared problem responses to every operation, as references to components.
pub fn finish(mut spec: OpenApi) -> OpenApi {
    let components = spec.components.get_or_insert_with(Default::default);
    for (_, name, description) in STANDARD {
        components
            .responses
            .insert(name.to_owned(), RefOr::T(problem(description)));
    }
    for (path, item) in spec.paths.paths.iter_mut() {
        let has_path_params = path.contains('{');
        for (is_read, operation) in operations(item) {
            let has_body = operation.request_body.is_some();
            for (status, name, _) in STANDARD {
                let applies = match status {
                    "404" => has_path_params,
                    "403" => !is_read || operation.security.is_some(),
                    "413" | "415" | "422" => has_body,
                    _ => true,
                };
                if applies {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            RefOr::Ref(Ref::new(format!("#/components/responses/{name}")))
                        });
                }
            }
        }
    }
    polish(spec)
}

/// Corrections to what utoipa generates, made on the JSON form of the document:
///
/// - `PATCH` bodies (JSON Merge Patch) get their own `<Name>Patch` schema: the input schema with
///   nothing required, since a patch may carry any subset of the fields.
/// - Response schemas list every property they always send as `required` (a nullable property
///   is sent as `null`, never left out), so generated clients type them `T | null`, not `T?`.
/// - Page items refer to the record schema instead of repeating it.
/// - Parameters are never `null` (a query string or header has no null).
/// - Operations that answer 304 declare the `If-None-Match` header they honour.
/// - Changes of versioned records declare `If-Match` and its 412, written once here.
fn polish(spec: OpenApi) -> OpenApi {
    let mut doc = serde_json::to_value(&spec).expect("spec serializes");
    doc["servers"] = json!([{"url": "/", "description": "This server"}]);
    doc["info"]["x-data-license"] = json!({
        "name": "CC-BY-4.0",
        "title": "Creative Commons Attribution 4.0 International",
        "url": "https://creativecommons.org/licenses/by/4.0/",
        "scope": "the registry's data; the code is under info.license; texts quoted from sources keep their sources' terms (each source's `terms`)"
    });
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "kopa_<40 characters>",
            "description": "An API key (`Authorization: Bearer kopa_...`), bound to one organisation and a set of scopes: `metrics:write`, `projects:write`, `read:private`, `admin`."
        }
    });
    let schemas = doc["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut patches = Map::new();
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        // Records read with a strong ETag take `If-Match` on every change.
        let versioned = item.get("get").is_some();
        for (method, operation) in item.as_object_mut().into_iter().flat_map(|i| i.iter_mut()) {
            if versioned && matches!(method.as_str(), "patch" | "delete") {
                precondition(operation, method == "patch");
            }
            if let Some(params) = operation["parameters"].as_array_mut() {
                params.iter_mut().for_each(|p| drop_null(&mut p["schema"]));
            }
            // Reads are open (a key may show more: drafts, contacts); writes need a key.
            if operation.get("security").is_none() {
                operation["security"] = if method == "get" {
                    json!([{}, {"bearer": []}])
                } else {
                    json!([{"bearer": []}])
                };
            }
            if method == "post" {
                let declared = operation["parameters"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["name"] == "Idempotency-Key"));
                if !declared {
                    let header = json!({
                        "name": "Idempotency-Key", "in": "header", "required": false,
                        "description": "Unique per logical request (e.g. a UUID): a retry with the same key and body within 24 h gets the first response again, byte for byte",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"}
                    });
                    match operation["parameters"].as_array_mut() {
                        Some(params) => params.push(header),
                        None => operation["parameters"] = json!([header]),
                    }
                }
                let responses = operation["responses"].as_object_mut().expect("responses");
                responses.entry("409").or_insert_with(|| json!({
                    "description": "Conflicts with stored data, or a request with the same `Idempotency-Key` is still running",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                }));
                // A key reused with another request is refused, bodyless operations included.
                responses.entry("422").or_insert_with(|| json!({
                    "description": "The `Idempotency-Key` was used before with a different request; `errors` names it",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                }));
            }
            if method == "get" && operation["tags"] != json!(["operations"]) {
                document_caching(operation);
                if operation["tags"] != json!(["api-keys"]) {
                    document_license(operation);
                }
            }
            if operation["responses"].get("304").is_some() {
                let params = operation["parameters"].as_array_mut();
                let header = json!({
                    "name": "If-None-Match", "in": "header", "required": false,
                    "description": "ETag(s) the client holds; a match gives 304 Not Modified",
                    "schema": {"type": "string"}
                });
                match params {
                    Some(params) => params.push(header),
                    None => operation["parameters"] = json!([header]),
                }
            }
            if method != "patch" {
                continue;
            }
            let body =
                &mut operation["requestBody"]["content"]["application/merge-patch+json"]["schema"];
            let Some(input) = body["$ref"].as_str().and_then(|r| r.rsplit('/').next()) else {
                continue;
            };
            let name = format!("{}Patch", input.trim_end_matches("Input"));
            let mut patch = schemas[input].clone();
            if let Some(patch) = patch.as_object_mut() {
                let required = patch.remove("required").unwrap_or_default();
                // `null` removes a member, which clears a field the input may omit.
                for (property, definition) in patch
                    .get_mut("properties")
                    .and_then(Value::as_object_mut)
                    .into_iter()
                    .flat_map(|p| p.iter_mut())
                {
                    let is_required = required
                        .as_array()
                        .is_some_and(|r| r.contains(&json!(property)));
                    if !is_required && !is_nullable(definition) {
                        make_nullable(definition);
                    }
                }
                patch.insert(
                    "description".into(),
                    json!(format!("JSON Merge Patch of a `{}`: any subset of its fields; `null` clears an optional field.", input)),
                );
            }
            *body = json!({"$ref": format!("#/components/schemas/{name}")});
            patches.insert(name, patch);
        }
    }
    let written = written_schemas(&doc);
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("schemas");
    let records: Vec<String> = schemas.keys().cloned().collect();
    for (name, schema) in schemas.iter_mut() {
        if let Some(record) = name.strip_prefix("Page_") {
            if records.iter().any(|r| r == record) {
                schema["properties"]["data"]["items"] =
                    json!({"$ref": format!("#/components/schemas/{record}")});
            }
        }
        if name.ends_with("Input") || written.contains(name) {
            continue;
        }
        let Some(properties) = schema["properties"].as_object() else {
            continue;
        };
        let mut required: Vec<Value> = schema["required"].as_array().cloned().unwrap_or_default();
        for (property, definition) in properties {
            if is_nullable(definition) && !required.iter().any(|r| r == property) {
                required.push(json!(property));
            }
        }
        schema["required"] = Value::Array(required);
    }
    schemas.extend(patches);
    serde_json::from_value(doc).expect("polished spec deserializes")
}

/// The component schemas `value` refers to: anywhere in it when `inside`, otherwise only
/// within its `requestBody` members.
fn refs(value: &Value, inside: bool, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let name = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"));
            if let (true, Some(name)) = (inside, name) {
                out.push(name.to_owned());
            }
            for (key, inner) in map {
                refs(inner, inside || key == "requestBody", out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, inside, out)),
        _ => {}
    }
}

/// The schemas request bodies use, directly or nested: a writer may leave out their null
/// members, so they are not marked required.
fn written_schemas(doc: &Value) -> Vec<String> {
    let mut pending = Vec::new();
    refs(&doc["paths"], false, &mut pending);
    let mut written: Vec<String> = Vec::new();
    while let Some(name) = pending.pop() {
        if !written.contains(&name) {
            refs(&doc["components"]["schemas"][&name], true, &mut pending);
            written.push(name);
        }
    }
    written
}

/// The `If-Match` header a change of a versioned record takes, and its 412.
fn precondition(operation: &mut Value, is_patch: bool) {
    let what = if is_patch { "change" } else { "deletion" };
    let header = json!({
        "name": "If-Match", "in": "header", "required": false,
        "description": format!("ETag the {what} is based on; a stale one gives 412"),
        "schema": {"type": "string"}
    });
    match operation["parameters"].as_array_mut() {
        Some(params) => params.push(header),
        None => operation["parameters"] = json!([header]),
    }
    operation["responses"]["412"] = json!({
        "description": "If-Match is stale",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
}

/// What `crate::web::caching` adds to successful reads: `Cache-Control`, `Vary`, and for responses
/// without their own ETag (lists) a weak `ETag` with 304 on `If-None-Match`.
fn document_caching(operation: &mut Value) {
    let Some(ok) = operation["responses"]
        .get_mut("200")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let headers = ok.entry("headers").or_insert_with(|| json!({}));
    headers["Cache-Control"] = json!({
        "description": "`public, max-age=60` without a key; `private, no-cache` with one",
        "schema": {"type": "string"}
    });
    headers["Vary"] = json!({
        "description": "`Authorization, Accept, Accept-Encoding, Accept-Language`",
        "schema": {"type": "string"}
    });
    if headers.get("ETag").is_none() {
        headers["ETag"] = json!({
            "description": "Weak entity tag of this page; send it as If-None-Match",
            "schema": {"type": "string"}
        });
        operation["responses"]["304"] =
            json!({"description": "Not modified (If-None-Match matched)"});
    }
}

/// Every read of the registry's data names its licence in a `Link` header.
fn document_license(operation: &mut Value) {
    let Some(ok) = operation["responses"]
        .get_mut("200")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let headers = ok.entry("headers").or_insert_with(|| json!({}));
    let license =
        "`<https://creativecommons.org/licenses/by/4.0/>; rel=\"license\"`: the data is CC BY 4.0";
    let description = match headers["Link"]["description"].as_str() {
        Some(next) => format!("{license}; {next}"),
        None => license.to_owned(),
    };
    headers["Link"] = json!({"description": description, "schema": {"type": "string"}});
}

fn is_nullable(schema: &Value) -> bool {
    let null = json!("null");
    schema["type"].as_array().is_some_and(|t| t.contains(&null))
        || ["oneOf", "anyOf"].iter().any(|k| {
            schema[k]
                .as_array()
                .is_some_and(|v| v.iter().any(|s| s["type"] == null))
        })
}

/// `T` becomes `T | null`.
fn make_nullable(schema: &mut Value) {
    match &schema["type"] {
        Value::String(t) => schema["type"] = json!([t, "null"]),
        Value::Array(types) => {
            let mut types = types.clone();
            types.push(json!("null"));
            schema["type"] = Value::Array(types);
        }
        _ => {
            let inner = std::mem::take(schema);
            *schema = json!({"oneOf": [{"type": "null"}, inner]});
        }
    }
}

/// `["string", "null"]` becomes `"string"`.
fn drop_null(schema: &mut Value) {
    if let Some(types) = schema["type"].as_array() {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() == 1 {
            schema["type"] = kept[0].clone();
        }
    }
}

/// The operations of a path, each with whether it only reads.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (bool, &mut Operation)> {
    [
        (true, &mut item.get),
        (false, &mut item.put),
        (false, &mut item.post),
        (false, &mut item.delete),
        (false, &mut item.patch),
        (true, &mut item.head),
        (true, &mut item.options),
    ]
    .into_iter()
    .filter_map(|(read, op)| op.as_mut().map(|op| (read, op)))
}

/// Paths and methods from the spec, to tell 404 from 405 for requests no route took, and which
/// operations need a key (their `security` does not allow anonymous calls).
pub struct RouteTable(Vec<Route>);

/// A path template's segments and its methods, each with whether it needs a key.
type Route = (Vec<String>, Vec<(&'static str, bool)>);

fn requires_key(operation: &Option<Operation>) -> bool {
    operation
        .as_ref()
        .and_then(|op| op.security.as_ref())
        .is_some_and(|requirements| {
            serde_json::to_value(requirements)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .is_some_and(|alternatives| {
                    !alternatives
                        .iter()
                        .any(|a| a.as_object().is_some_and(|o| o.is_empty()))
                })
        })
}

impl RouteTable {
    pub fn new(spec: &OpenApi) -> Self {
        let mut routes: Vec<Route> = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(str::to_owned).collect();
                let methods = [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                ]
                .into_iter()
                .filter(|(_, op)| op.is_some())
                .map(|(m, op)| (m, requires_key(op)))
                .collect();
                (segments, methods)
            })
            .collect();
        for fixed in ["/openapi.json", "/docs", "/docs/"] {
            routes.push((
                fixed.split('/').map(str::to_owned).collect(),
                vec![("GET", false)],
            ));
        }
        RouteTable(routes)
    }

    /// The methods of the most specific templates matching `path`: `/v1/metrics/batch` is the
    /// batch resource, not `/v1/metrics/{id}` with id `batch`.
    fn matching(&self, path: &str) -> Vec<(&'static str, bool)> {
        let wanted: Vec<&str> = path.split('/').collect();
        let matches = |segments: &[String]| {
            segments.len() == wanted.len()
                && segments
                    .iter()
                    .zip(&wanted)
                    .all(|(s, w)| s == w || (s.starts_with('{') && !w.is_empty()))
        };
        let literals =
            |segments: &[String]| segments.iter().filter(|s| !s.starts_with('{')).count();
        let best = self
            .0
            .iter()
            .filter(|(segments, _)| matches(segments))
            .map(|(segments, _)| literals(segments))
            .max();
        self.0
            .iter()
            .filter(|(segments, _)| matches(segments) && Some(literals(segments)) == best)
            .flat_map(|(_, methods)| methods.iter().copied())
            .collect()
    }

    pub fn allowed_methods(&self, path: &str) -> Vec<&'static str> {
        let mut allowed: Vec<&'static str> =
            self.matching(path).into_iter().map(|(m, _)| m).collect();
        allowed.sort_unstable();
        allowed.dedup();
        allowed
    }

    /// Whether the operation exists and its spec demands a key.
    pub fn requires_key(&self, path: &str, method: &str) -> bool {
        self.matching(path)
            .into_iter()
            .any(|(m, key)| m == method && key)
    }
}
