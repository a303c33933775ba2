//! The public registry as one Frictionless Data Package: a CSV per table and a
//! `datapackage.json` that describes each (field types, primary and foreign keys, licence,
//! sources), all read from one snapshot. Served zipped at `GET /v1/dump`, written to a folder by
//! `kopa dump DIR`, and loaded back into an empty database by `kopa load-dump`.
//!
//! The dump is what anonymous readers may see: no drafts (nor their partners, activities,
//! funding lines or values), no contact persons, no keys, no audit trail. Its cells are
//! machine-readable: ids, ISO dates and UTC timestamps, exact decimals, and lists and objects as
//! JSON, so a load gives back every field as it was.

use std::collections::BTreeMap;
use std::io::{Read, Seek, Write};
use std::path::Path;

use diesel::sql_types::Nullable;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{json, Map, Value};

use crate::web::csv_export::CsvFile;
use crate::web::error::{ApiError, ApiResult};

/// A field's type in the Table Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uuid,
    Text,
    Integer,
    Number,
    Date,
    DateTime,
    /// A JSON array.
    List,
    /// A JSON object.
    Object,
}

/// One column of a dumped table.
#[derive(Clone, Copy)]
struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
    /// Computed by the database from other columns: dumped, never loaded.
    derived: bool,
}

const fn field(name: &'static str, kind: Kind, required: bool) -> Field {
    Field {
        name,
        kind,
        required,
        derived: false,
    }
}

const fn derived(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        derived: true,
    }
}

/// A reference from `fields` to `table`'s `columns`.
struct ForeignKey {
    fields: &'static str,
    table: &'static str,
    column: &'static str,
}

const fn fk(fields: &'static str, table: &'static str, column: &'static str) -> ForeignKey {
    ForeignKey {
        fields,
        table,
        column,
    }
}

/// One table of the package.
struct Table {
    name: &'static str,
    description: &'static str,
    /// `FROM ... WHERE ...` over the table aliased `t`: what is public.
    from: &'static str,
    key: &'static [&'static str],
    fields: &'static [Field],
    foreign_keys: &'static [ForeignKey],
}

use Kind::*;

const STAMPS: [Field; 3] = [
    field("created_at", DateTime, true),
    field("updated_at", DateTime, true),
    field("version", Integer, true),
];

macro_rules! fields {
    ($($field:expr),* $(,)?; stamped) => {
        const { &[$($field,)* STAMPS[0], STAMPS[1], STAMPS[2]] }
    };
    ($($field:expr),* $(,)?) => {
        const { &[$($field),*] }
    };
}

fn vocabulary(name: &'static str, from: &'static str, description: &'static str) -> Table {
    Table {
        name,
        description,
        from,
        key: &["code"],
        fields: fields![
            field("code", Text, true),
            field("label_en", Text, true),
            field("label_lv", Text, true),
            field("position", Integer, true),
        ],
        foreign_keys: &[],
    }
}

/// Every table, in an order in which each one's references come before it.
fn tables() -> Vec<Table> {
    let mut tables = vec![
        vocabulary(
            "organisation_kinds",
            "organisation_kinds t",
            "Kinds of organisation",
        ),
        vocabulary(
            "partner_roles",
            "partner_roles t",
            "Roles of partners in a project",
        ),
        vocabulary(
            "target_groups",
            "target_groups t",
            "Groups of people projects aim at",
        ),
        Table {
            name: "regions",
            description: "Regions of Latvia (and abroad), with their NUTS 3 codes (2021 and 2024)",
            from: "regions t",
            key: &["code"],
            fields: fields![
                field("code", Text, true),
                field("label_en", Text, true),
                field("label_lv", Text, true),
                field("position", Integer, true),
                field("nuts3", Text, false),
                field("nuts3_2024", Text, false),
            ],
            foreign_keys: &[],
        },
        vocabulary("activity_kinds", "activity_kinds t", "Kinds of activity"),
        vocabulary("units", "units t", "Units of outcome numbers"),
        vocabulary(
            "programme_roles",
            "programme_roles t",
            "Roles of organisations in a programme",
        ),
        Table {
            name: "territories",
            description: "Latvia's administrative territories (ATVK codes), with ISO 3166-2 and \
                LAU codes, representative points (WGS 84), validity and today's successor",
            from: "territories t",
            key: &["code"],
            fields: fields![
                field("code", Text, true),
                field("label_en", Text, true),
                field("label_lv", Text, true),
                field("position", Integer, true),
                field("kind", Text, true),
                field("region", Text, true),
                field("iso", Text, false),
                field("lau", Text, false),
                field("lon", Number, true),
                field("lat", Number, true),
                field("valid_from", Date, false),
                field("valid_to", Date, false),
                field("successor", Text, false),
            ],
            foreign_keys: const {
                &[
                    fk("region", "regions", "code"),
                    fk("successor", "territories", "code"),
                ]
            },
        },
        Table {
            name: "sources",
            description: "The pages and documents records rest on, with the terms their quoted texts come under",
            from: "sources t",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("title", Text, true),
                field("publisher", Text, false),
                field("url", Text, false),
                field("published_on", Date, false),
                field("retrieved_on", Date, false),
                field("language", Text, false),
                field("terms", Text, false),
                field("description", Text, false),
                field("inferred", List, true);
                stamped
            ],
            foreign_keys: &[],
        },
    ];
    tables.extend([
        Table {
            name: "organisations",
            description: "Bodies that run, fund, administer or partner in projects",
            from: "organisations t",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("name", Text, true),
                field("short_name", Text, false),
                field("kind", Text, true),
                field("country", Text, false),
                field("registration_number", Text, false),
                field("website", Text, false),
                field("email", Text, false),
                field("phone", Text, false),
                field("description", Text, false),
                derived("org_id", Text),
                field("inferred", List, true);
                stamped
            ],
            foreign_keys: const { &[fk("kind", "organisation_kinds", "code")] },
        },
        Table {
            name: "programmes",
            description: "Funding programmes and instruments",
            from: "programmes t",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("name", Text, true),
                field("short_name", Text, false),
                field("code", Text, false),
                field("description", Text, false),
                field("start_date", Date, false),
                field("end_date", Date, false),
                field("website", Text, false),
                field("inferred", List, true);
                stamped
            ],
            foreign_keys: &[],
        },
        Table {
            name: "programme_organisations",
            description: "The organisations of programmes, each with its role, in order",
            from: "programme_organisations t",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("programme_id", Uuid, true),
                field("position", Integer, true),
                field("organisation_id", Uuid, true),
                field("role", Text, true),
                field("description", Text, false),
            ],
            foreign_keys: const {
                &[
                    fk("programme_id", "programmes", "id"),
                    fk("organisation_id", "organisations", "id"),
                    fk("role", "programme_roles", "code"),
                ]
            },
        },
        Table {
            name: "projects",
            description: "Published projects (drafts and contact persons are not public)",
            from: "projects t WHERE t.status <> 'draft'",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("reference", Text, false),
                field("title", Text, true),
                field("title_en", Text, false),
                field("summary", Text, false),
                field("aim", Text, false),
                field("problem", Text, false),
                field("objectives", List, true),
                field("status", Text, true),
                field("status_stated_on", Date, false),
                field("lead_organisation_id", Uuid, true),
                field("programme_id", Uuid, false),
                field("start_date", Date, false),
                field("end_date", Date, false),
                field("date_precision", Text, true),
                field("places", List, true),
                field("regions", List, true),
                field("target_groups", List, true),
                field("municipalities", List, true),
                field("points", List, true),
                field("inferred", List, true),
                field("total_budget", Number, false),
                field("currency", Text, false),
                field("website", Text, false),
                field("source_document", Text, false),
                field("translations", Object, true);
                stamped
            ],
            foreign_keys: const {
                &[
                    fk("lead_organisation_id", "organisations", "id"),
                    fk("programme_id", "programmes", "id"),
                ]
            },
        },
        Table {
            name: "project_funding",
            description: "Funding lines of published projects, in order",
            from:
                "project_funding t JOIN projects p ON p.id = t.project_id AND p.status <> 'draft'",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("project_id", Uuid, true),
                field("position", Integer, true),
                field("programme_id", Uuid, false),
                field("funder_id", Uuid, false),
                field("share_percent", Number, false),
                field("amount", Number, false),
                field("currency", Text, false),
            ],
            foreign_keys: const {
                &[
                    fk("project_id", "projects", "id"),
                    fk("programme_id", "programmes", "id"),
                    fk("funder_id", "organisations", "id"),
                ]
            },
        },
        Table {
            name: "activities",
            description: "What published projects do",
            from: "activities t JOIN projects p ON p.id = t.project_id AND p.status <> 'draft'",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("project_id", Uuid, true),
                field("title", Text, true),
                field("kind", Text, true),
                field("description", Text, false),
                field("start_date", Date, false),
                field("end_date", Date, false),
                field("place", Text, false),
                field("region", Text, false),
                field("participants", Integer, false),
                field("target_groups", List, true),
                field("municipalities", List, true),
                field("points", List, true),
                field("inferred", List, true),
                field("external_id", Text, false);
                stamped
            ],
            foreign_keys: const {
                &[
                    fk("project_id", "projects", "id"),
                    fk("kind", "activity_kinds", "code"),
                    fk("region", "regions", "code"),
                ]
            },
        },
        Table {
            name: "project_partners",
            description: "Organisations taking part in published projects, with their role",
            from:
                "project_partners t JOIN projects p ON p.id = t.project_id AND p.status <> 'draft'",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("project_id", Uuid, true),
                field("organisation_id", Uuid, true),
                field("role", Text, true),
                field("description", Text, false),
                field("activity_id", Uuid, false);
                stamped
            ],
            foreign_keys: const {
                &[
                    fk("project_id", "projects", "id"),
                    fk("organisation_id", "organisations", "id"),
                    fk("role", "partner_roles", "code"),
                    fk("activity_id", "activities", "id"),
                ]
            },
        },
        Table {
            name: "indicators",
            description: "The catalogue of outcome-number kinds",
            from: "indicators t",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("code", Text, true),
                field("name", Text, true),
                field("name_lv", Text, false),
                field("description", Text, false),
                field("unit", Text, true),
                field("aggregation", Text, true),
                field("counts_towards", Text, false),
                field("relation", Text, true);
                stamped
            ],
            foreign_keys: const {
                &[
                    fk("unit", "units", "code"),
                    fk("counts_towards", "indicators", "code"),
                ]
            },
        },
        Table {
            name: "metric_values",
            description: "Outcome numbers of published projects",
            from: "metric_values t JOIN projects p ON p.id = t.project_id AND p.status <> 'draft'",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("project_id", Uuid, true),
                field("indicator_id", Uuid, true),
                field("activity_id", Uuid, false),
                field("period_start", Date, false),
                field("period_end", Date, false),
                field("target_group", Text, false),
                field("kind", Text, true),
                field("value", Number, true),
                field("qualifier", Text, true),
                field("note", Text, false),
                field("inferred", List, true),
                field("external_id", Text, false),
                field("verification", Text, true),
                field("verification_note", Text, false),
                field("verified_by", Uuid, false),
                field("verified_at", DateTime, false);
                stamped
            ],
            foreign_keys: const {
                &[
                    fk("project_id", "projects", "id"),
                    fk("indicator_id", "indicators", "id"),
                    fk("activity_id", "activities", "id"),
                    fk("target_group", "target_groups", "code"),
                ]
            },
        },
        Table {
            name: "source_links",
            description: "Which sources organisations, programmes, published projects and their \
                outcome numbers rest on, naming the fields each source gives",
            from: "source_links t LEFT JOIN projects p ON p.id = t.project_id \
                LEFT JOIN metric_values mv ON mv.id = t.metric_value_id \
                LEFT JOIN projects mp ON mp.id = mv.project_id \
                WHERE p.status IS DISTINCT FROM 'draft' AND mp.status IS DISTINCT FROM 'draft'",
            key: &["id"],
            fields: fields![
                field("id", Uuid, true),
                field("source_id", Uuid, true),
                field("position", Integer, true),
                field("project_id", Uuid, false),
                field("programme_id", Uuid, false),
                field("organisation_id", Uuid, false),
                field("metric_value_id", Uuid, false),
                field("fields", List, true),
                field("note", Text, false),
            ],
            foreign_keys: const {
                &[
                    fk("source_id", "sources", "id"),
                    fk("project_id", "projects", "id"),
                    fk("programme_id", "programmes", "id"),
                    fk("organisation_id", "organisations", "id"),
                    fk("metric_value_id", "metric_values", "id"),
                ]
            },
        },
    ]);
    tables
}

impl Kind {
    /// The column as the dump writes it (timestamps in UTC with microseconds).
    fn select(self, column: &str) -> String {
        match self {
            DateTime => format!(
                "to_char(t.{column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS {column}"
            ),
            _ => format!("t.{column}"),
        }
    }

    fn schema(self) -> Value {
        match self {
            Uuid => json!({"type": "string", "format": "uuid"}),
            Text => json!({"type": "string"}),
            Integer => json!({"type": "integer"}),
            Number => json!({"type": "number"}),
            Date => json!({"type": "date"}),
            DateTime => json!({"type": "datetime"}),
            List => json!({"type": "array"}),
            Object => json!({"type": "object"}),
        }
    }
}

impl Table {
    fn path(&self) -> String {
        format!("data/{}.csv", self.name)
    }

    fn query(&self) -> String {
        let columns: Vec<String> = self.fields.iter().map(|f| f.kind.select(f.name)).collect();
        let order: Vec<String> = self.key.iter().map(|k| format!("t.{k}")).collect();
        format!(
            "SELECT row_to_json(x)::text AS cells FROM (SELECT {} FROM {} ORDER BY {}) x",
            columns.join(", "),
            self.from,
            order.join(", ")
        )
    }

    fn descriptor(&self) -> Value {
        let fields: Vec<Value> = self
            .fields
            .iter()
            .map(|f| {
                let mut schema = f.kind.schema();
                schema["name"] = json!(f.name);
                if f.required {
                    schema["constraints"] = json!({"required": true});
                }
                schema
            })
            .collect();
        let foreign_keys: Vec<Value> = self
            .foreign_keys
            .iter()
            .map(|k| {
                // A reference within the table itself names no resource (Table Schema).
                let resource = if k.table == self.name { "" } else { k.table };
                json!({"fields": [k.fields], "reference": {"resource": resource, "fields": [k.column]}})
            })
            .collect();
        json!({
            "name": self.name,
            "path": self.path(),
            "profile": "tabular-data-resource",
            "description": self.description,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": {
                "fields": fields,
                "primaryKey": self.key,
                "foreignKeys": foreign_keys,
                "missingValues": [""],
            }
        })
    }
}

/// The package's descriptor.
fn descriptor(tables: &[Table]) -> Value {
    json!({
        "profile": "tabular-data-package",
        "name": "kopa-registry",
        "title": "Kopa: registry of civil-society and social-integration projects",
        "description": "The public registry: organisations, programmes with their organisations, \
            published projects with their funding lines, partners, activities and outcome numbers, \
            the sources they rest on, the indicator catalogue, Latvia's territories and the \
            vocabularies. Drafts and contact persons are not included. The data is CC BY 4.0; \
            texts quoted from sources keep their sources' terms (sources.terms).",
        "licenses": [{
            "name": "CC-BY-4.0",
            "title": "Creative Commons Attribution 4.0 International",
            "path": "https://creativecommons.org/licenses/by/4.0/"
        }],
        "sources": [{
            "title": "Project pages published by the projects, their funders and administrators \
                (the sources table lists each, and source_links what rests on it); texts quoted \
                from them keep their sources' terms"
        }],
        "resources": tables.iter().map(Table::descriptor).collect::<Vec<_>>(),
    })
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    cells: String,
}

#[derive(QueryableByName)]
struct Tag {
    #[diesel(sql_type = Nullable<diesel::sql_types::Text>)]
    tag: Option<String>,
}

/// The cell of one value as the dump writes it: empty for null, JSON for lists and objects.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// What changes whenever anything in the dump may have: the newest change-log entry and the
/// vocabularies. Read with the dump, it tags exactly that dump.
const TAG: &str = "SELECT md5(concat_ws('|', (SELECT max(id)::text FROM audit_log), \
    (SELECT string_agg(v::text, ',' ORDER BY v::text) FROM (SELECT to_jsonb(t)::text FROM organisation_kinds t \
    UNION ALL SELECT to_jsonb(t)::text FROM partner_roles t UNION ALL SELECT to_jsonb(t)::text FROM target_groups t \
    UNION ALL SELECT to_jsonb(t)::text FROM regions t UNION ALL SELECT to_jsonb(t)::text FROM activity_kinds t \
    UNION ALL SELECT to_jsonb(t)::text FROM units t UNION ALL SELECT to_jsonb(t)::text FROM programme_roles t \
    UNION ALL SELECT to_jsonb(t)::text FROM territories t) v(v)))) AS tag";

/// The weak ETag of the dump as of now.
pub async fn tag(conn: &mut AsyncPgConnection) -> ApiResult<String> {
    let tag: Tag = diesel::sql_query(TAG).get_result(conn).await?;
    Ok(format!("W/\"dump-{}\"", tag.tag.unwrap_or_default()))
}

/// A written package: its tables as temporary CSV files, its descriptor, and its ETag.
pub struct Package {
    pub descriptor: Value,
    pub tag: String,
    files: Vec<(String, std::fs::File)>,
}

/// Reads the whole public registry from one snapshot.
pub async fn read(conn: &mut AsyncPgConnection) -> ApiResult<Package> {
    let tables = tables();
    let descriptor = descriptor(&tables);
    let (tag, files) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run(
            async |conn| -> ApiResult<(String, Vec<(String, std::fs::File)>)> {
                let tag = tag(conn).await?;
                let mut files = Vec::new();
                for table in &tables {
                    let header: Vec<&str> = table.fields.iter().map(|f| f.name).collect();
                    let mut file = CsvFile::new(&header)?;
                    diesel::sql_query(format!(
                        "DECLARE dump NO SCROLL CURSOR FOR {}",
                        table.query()
                    ))
                    .execute(conn)
                    .await?;
                    loop {
                        let rows: Vec<Row> =
                            diesel::sql_query("FETCH 2000 FROM dump").load(conn).await?;
                        for row in &rows {
                            let record: Map<String, Value> = serde_json::from_str(&row.cells)
                                .map_err(|e| ApiError::Internal(e.into()))?;
                            file.write(header.iter().map(|name| cell(&record[*name])))?;
                        }
                        if rows.len() < 2000 {
                            break;
                        }
                    }
                    diesel::sql_query("CLOSE dump").execute(conn).await?;
                    files.push((table.path(), file.finish()?));
                }
                Ok((tag, files))
            },
        )
        .await?;
    Ok(Package {
        descriptor,
        tag,
        files,
    })
}

fn io(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("writing the dump: {error}"))
}

impl Package {
    /// The package as one zip file (a temporary file, rewound).
    pub fn zip(self) -> ApiResult<std::fs::File> {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut zip = zip::ZipWriter::new(tempfile::tempfile().map_err(io)?);
        zip.start_file("datapackage.json", options).map_err(io)?;
        zip.write_all(&serde_json::to_vec_pretty(&self.descriptor).map_err(io)?)
            .map_err(io)?;
        for (path, mut file) in self.files {
            zip.start_file(path, options).map_err(io)?;
            std::io::copy(&mut file, &mut zip).map_err(io)?;
        }
        let mut file = zip.finish().map_err(io)?;
        file.rewind().map_err(io)?;
        Ok(file)
    }

    /// The package as files in `dir`: `datapackage.json` and `data/*.csv`.
    pub fn write_to(self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::write(
            dir.join("datapackage.json"),
            serde_json::to_vec_pretty(&self.descriptor)?,
        )?;
        for (path, mut file) in self.files {
            let mut out = std::fs::File::create(dir.join(path))?;
            std::io::copy(&mut file, &mut out)?;
        }
        Ok(())
    }
}

/// Reads one file of a package by its path in the package.
type PackageReader = Box<dyn FnMut(&str) -> anyhow::Result<Vec<u8>>>;

/// Reads a package's file (`datapackage.json` or `data/x.csv`) from a folder or a zip.
fn open_source(source: &Path) -> anyhow::Result<PackageReader> {
    if source.is_dir() {
        let dir = source.to_owned();
        return Ok(Box::new(move |name: &str| {
            Ok(std::fs::read(dir.join(name))?)
        }));
    }
    let mut archive = zip::ZipArchive::new(std::fs::File::open(source)?)?;
    Ok(Box::new(move |name: &str| {
        let mut entry = archive.by_name(name)?;
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        Ok(bytes)
    }))
}

/// A CSV cell back as JSON, by its field's type (empty is null).
fn value(kind: Kind, cell: &str) -> anyhow::Result<Value> {
    if cell.is_empty() {
        return Ok(Value::Null);
    }
    Ok(match kind {
        Integer | Number | List | Object => serde_json::from_str(cell)?,
        _ => Value::String(cell.to_owned()),
    })
}

/// Loads a package (a folder or the zip `GET /v1/dump` serves) into a database whose registry
/// is empty, keeping every id, version and timestamp. Returns the rows loaded per table.
pub async fn load(
    conn: &mut AsyncPgConnection,
    source: &Path,
) -> anyhow::Result<BTreeMap<&'static str, usize>> {
    let mut read = open_source(source)?;
    let descriptor: Value = serde_json::from_slice(&read("datapackage.json")?)?;
    anyhow::ensure!(
        descriptor["name"] == "kopa-registry",
        "{} is not a Kopa dump (datapackage.json names {})",
        source.display(),
        descriptor["name"]
    );
    let tables = tables();
    let mut contents = Vec::new();
    for table in &tables {
        contents.push(read(&table.path())?);
    }
    conn.transaction(async |conn| -> anyhow::Result<BTreeMap<&'static str, usize>> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let existing: Count =
            diesel::sql_query("SELECT (SELECT count(*) FROM organisations) + (SELECT count(*) FROM indicators) AS n")
                .get_result(conn)
                .await?;
        anyhow::ensure!(existing.n == 0, "the registry is not empty; load a dump into an empty database");
        let mut loaded = BTreeMap::new();
        for (table, bytes) in tables.iter().zip(&contents) {
            let mut reader = csv::Reader::from_reader(bytes.as_slice());
            let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
            let expected: Vec<&str> = table.fields.iter().map(|f| f.name).collect();
            anyhow::ensure!(
                header == expected,
                "{}: columns {header:?}, expected {expected:?}",
                table.path()
            );
            let mut batch = Vec::new();
            let mut count = 0;
            for record in reader.records() {
                let record = record?;
                let mut object = Map::new();
                for (field, cell) in table.fields.iter().zip(record.iter()) {
                    object.insert(field.name.to_owned(), value(field.kind, cell)?);
                }
                batch.push(Value::Object(object));
                if batch.len() == 1000 {
                    count += insert(conn, table, std::mem::take(&mut batch)).await?;
                }
            }
            count += insert(conn, table, batch).await?;
            loaded.insert(table.name, count);
        }
        Ok(loaded)
    })
    .await
}

async fn insert(
    conn: &mut AsyncPgConnection,
    table: &Table,
    rows: Vec<Value>,
) -> anyhow::Result<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    let columns: Vec<&str> = table
        .fields
        .iter()
        .filter(|f| !f.derived)
        .map(|f| f.name)
        .collect();
    let columns = columns.join(", ");
    // Vocabularies start with their base sets (from the migrations): the dump's terms replace
    // them, code by code.
    let conflict = if table.key == ["code"] {
        " ON CONFLICT (code) DO UPDATE SET label_en = excluded.label_en, \
         label_lv = excluded.label_lv, position = excluded.position"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO {name} ({columns}) SELECT {columns} FROM json_populate_recordset(NULL::{name}, $1){conflict}",
        name = table.name
    );
    let count = rows.len();
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Json, _>(Value::Array(rows))
        .execute(conn)
        .await?;
    Ok(count)
}
