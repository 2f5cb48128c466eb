//! The two migration folders describe one schema in two dialects. This migrates a fresh SQLite
//! and a fresh Postgres database with the server's own migrations and compares what they
//! hold: the same tables, the same columns, each with the same nullability and a type that
//! maps across (`TYPES`). A column added, renamed, retyped or made optional in one folder
//! only fails here. (`_sqlx_migrations` is sqlx's own bookkeeping and left out.)

use std::collections::{BTreeMap, BTreeSet};

use portcullis::store::Store;

use crate::harness::Backend;

/// SQLite's declared type → the Postgres `information_schema` types it may stand for.
/// `INTEGER` is `bigint` only: the store reads every integer column as `i64`, which sqlx
/// refuses to decode from a Postgres `integer`.
const TYPES: &[(&str, &[&str])] = &[
    ("TEXT", &["text", "character varying"]),
    ("INTEGER", &["bigint"]),
    ("BIGINT", &["bigint"]),
    ("BOOLEAN", &["boolean"]),
    ("BLOB", &["bytea"]),
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    /// As the database states it: SQLite's declared type in upper case, Postgres'
    /// `information_schema.columns.data_type`.
    ty: String,
    nullable: bool,
}

/// table → column → its type and nullability.
type Schema = BTreeMap<String, BTreeMap<String, Column>>;

async fn migrated(backend: Backend, url: &str) -> Schema {
    let store = Store::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let rows: Vec<(String, String, String, bool)> = match (&store, backend) {
        // SQLite lets a PRIMARY KEY column that is not `INTEGER PRIMARY KEY` hold NULL unless
        // it also says NOT NULL (a compatibility quirk of SQLite; the SQL standard and
        // Postgres make every key column NOT NULL). Such a column counts as NOT NULL here, as
        // it is on Postgres: the store never writes a NULL key.
        (Store::Sqlite(pool), Backend::Sqlite) => sqlx::query_as(
            "SELECT t.name, c.name, upper(c.type), c.\"notnull\" = 0 AND c.pk = 0 \
             FROM sqlite_master t, pragma_table_info(t.name) c \
             WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite_%' \
             AND t.name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .expect("read the SQLite schema"),
        (Store::Postgres(pool), Backend::Postgres) => sqlx::query_as(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES' \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(pool)
        .await
        .expect("read the Postgres schema"),
        (store, backend) => panic!("{backend:?} opened as {}", store.backend()),
    };
    store.close().await;
    let mut schema = Schema::new();
    for (table, column, ty, nullable) in rows {
        schema
            .entry(table)
            .or_default()
            .insert(column, Column { ty, nullable });
    }
    schema
}

/// Every difference between the two schemas, one line each, by table and column name; none
/// when they agree.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let tables: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    for table in tables {
        let (lite, pg) = match (sqlite.get(table), postgres.get(table)) {
            (Some(lite), Some(pg)) => (lite, pg),
            (Some(_), None) => {
                out.push(format!("table {table}: only on SQLite"));
                continue;
            }
            (None, _) => {
                out.push(format!("table {table}: only on Postgres"));
                continue;
            }
        };
        let names: BTreeSet<&String> = lite.keys().chain(pg.keys()).collect();
        for name in names {
            let at = format!("{table}.{name}");
            let (l, p) = match (lite.get(name), pg.get(name)) {
                (Some(l), Some(p)) => (l, p),
                (Some(_), None) => {
                    out.push(format!("{at}: only on SQLite"));
                    continue;
                }
                (None, _) => {
                    out.push(format!("{at}: only on Postgres"));
                    continue;
                }
            };
            match TYPES.iter().find(|(lite_ty, _)| *lite_ty == l.ty) {
                None => out.push(format!(
                    "{at}: SQLite type {} is not in the mapping (schema.rs TYPES)",
                    l.ty
                )),
                Some((_, pg_types)) if !pg_types.contains(&p.ty.as_str()) => out.push(format!(
                    "{at}: SQLite {} but Postgres {} (maps to {pg_types:?})",
                    l.ty, p.ty
                )),
                Some(_) => {}
            }
            if l.nullable != p.nullable {
                let says = |nullable: bool| if nullable { "NULL" } else { "NOT NULL" };
                out.push(format!(
                    "{at}: {} on SQLite, {} on Postgres",
                    says(l.nullable),
                    says(p.nullable)
                ));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrated_schemas_match_across_backends() {
    const TEST: &str = "migrated_schemas_match_across_backends";
    let Some(pg_db) = Backend::Postgres.db(TEST).await else {
        return;
    };
    let lite_db = Backend::Sqlite.db(TEST).await.expect("sqlite");
    let sqlite = migrated(Backend::Sqlite, &lite_db.url).await;
    let postgres = migrated(Backend::Postgres, &pg_db.url).await;
    assert!(
        sqlite.contains_key("clients") && sqlite.contains_key("audit_events"),
        "the migrations made no schema: {sqlite:?}"
    );
    let found = differences(&sqlite, &postgres);
    assert!(
        found.is_empty(),
        "the SQLite and Postgres migrations disagree:\n  {}",
        found.join("\n  ")
    );
}

/// No database: the comparison itself sees each kind of drift.
#[test]
fn the_comparison_sees_drift() {
    let col = |ty: &str, nullable| Column {
        ty: ty.to_string(),
        nullable,
    };
    let table = |cols: &[(&str, Column)]| {
        cols.iter()
            .map(|(n, c)| (n.to_string(), c.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    let sqlite: Schema = [
        (
            "t".to_string(),
            table(&[
                ("id", col("TEXT", false)),
                ("at", col("INTEGER", false)),
                ("key", col("BLOB", true)),
                ("gone", col("TEXT", true)),
                ("odd", col("REAL", true)),
            ]),
        ),
        ("lite_only".to_string(), table(&[("x", col("TEXT", true))])),
    ]
    .into();
    let agreeing: Schema = [(
        "t".to_string(),
        table(&[
            ("id", col("character varying", false)),
            ("at", col("bigint", false)),
            ("key", col("bytea", true)),
        ]),
    )]
    .into();
    let mut pg = agreeing.clone();
    let t = pg.get_mut("t").unwrap();
    t.insert("at".into(), col("integer", false));
    t.insert("key".into(), col("bytea", false));
    t.insert("new".into(), col("text", true));
    pg.insert("pg_only".into(), table(&[("y", col("text", true))]));
    assert_eq!(
        differences(&sqlite, &pg),
        [
            "table lite_only: only on SQLite",
            "table pg_only: only on Postgres",
            "t.at: SQLite INTEGER but Postgres integer (maps to [\"bigint\"])",
            "t.gone: only on SQLite",
            "t.key: NULL on SQLite, NOT NULL on Postgres",
            "t.new: only on Postgres",
            "t.odd: only on SQLite",
        ]
    );
    let mut lite = sqlite.clone();
    lite.remove("lite_only");
    let t = lite.get_mut("t").unwrap();
    t.remove("gone");
    t.remove("odd");
    assert_eq!(differences(&lite, &agreeing), Vec::<String>::new());
    let mut odd_pg = agreeing.clone();
    odd_pg
        .get_mut("t")
        .unwrap()
        .insert("odd".into(), col("real", true));
    lite.get_mut("t")
        .unwrap()
        .insert("odd".into(), col("REAL", true));
    assert_eq!(
        differences(&lite, &odd_pg),
        ["t.odd: SQLite type REAL is not in the mapping (schema.rs TYPES)"]
    );
}
