//! `--output table|json`: what list, show and create commands print on stdout. JSON is the
//! admin API's shape; a table lays the same data out in aligned columns for a person.
//! Progress and warnings go to stderr, so stdout stays one document either way.

use std::io::IsTerminal;

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// Columns that say which row is which, shown first when present.
const LEAD: [&str; 10] = [
    "check",
    "id",
    "client_id",
    "kid",
    "alg",
    "status",
    "username",
    "name",
    "client_name",
    "kind",
];

/// A list cell longer than this is cut (`…`): `show` or `--output json` has it whole.
const MAX_CELL: usize = 48;

impl Output {
    /// The flag when given; otherwise a table for a person at a terminal and JSON for a
    /// script or a pipe, so scripts written against the JSON keep working.
    pub fn resolve(flag: Option<Output>) -> Output {
        flag.unwrap_or(if std::io::stdout().is_terminal() {
            Output::Table
        } else {
            Output::Json
        })
    }

    pub fn print(self, value: &impl Serialize) {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        match self {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            ),
            Output::Table => print!("{}", table(&value)),
        }
    }
}

/// A list (`{"clients": [...], "next": …}` or a bare array) becomes one row per item; an
/// object becomes field/value rows; anything else prints as itself.
pub fn table(value: &Value) -> String {
    match value {
        Value::Array(items) => rows_table(items, MAX_CELL),
        Value::Object(map) => {
            let lists: Vec<&Vec<Value>> = map
                .iter()
                .filter(|(k, _)| k.as_str() != "next")
                .filter_map(|(_, v)| v.as_array())
                .collect();
            let only_a_list = map.len() - usize::from(map.contains_key("next")) == 1;
            match (lists.as_slice(), only_a_list) {
                ([items], true) => {
                    let mut out = rows_table(items, MAX_CELL);
                    if let Some(next) = map.get("next").and_then(Value::as_str) {
                        out.push_str(&format!("more: --after {next}\n"));
                    }
                    out
                }
                _ => {
                    let rows: Vec<Vec<String>> = map
                        .iter()
                        .map(|(k, v)| vec![k.clone(), cell(k, v)])
                        .collect();
                    align(&["FIELD".into(), "VALUE".into()], &rows)
                }
            }
        }
        Value::Null => String::new(),
        other => format!("{}\n", cell("", other)),
    }
}

/// One row per item, a column per field (in the order first seen). `max_cell` cuts long cells.
pub fn rows_table(items: &[Value], max_cell: usize) -> String {
    if items.is_empty() {
        return "(none)\n".into();
    }
    let mut columns: Vec<String> = Vec::new();
    for item in items {
        if let Value::Object(map) = item {
            for k in map.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    // What names a row comes first; the rest stay in (alphabetical) field order.
    columns.sort_by_key(|c| LEAD.iter().position(|l| l == c).unwrap_or(LEAD.len()));
    if columns.is_empty() {
        return items.iter().map(|v| format!("{}\n", cell("", v))).collect();
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|c| {
                    cut(
                        &item.get(c).map(|v| cell(c, v)).unwrap_or_default(),
                        max_cell,
                    )
                })
                .collect()
        })
        .collect();
    let headers: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    align(&headers, &rows)
}

/// Columns padded to their widest cell, two spaces apart; the last is not padded.
fn align(headers: &[String], rows: &[Vec<String>]) -> String {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain([headers[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..headers.len()).map(width).collect();
    let line = |cells: &[String]| {
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(c);
            } else {
                text.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        format!("{}\n", text.trim_end())
    };
    std::iter::once(line(headers))
        .chain(rows.iter().map(|r| line(r)))
        .collect()
}

/// A field as text: strings bare, lists comma-separated, times (Unix seconds in a `*_at`,
/// `valid_from` or `publish_until` field) as UTC, nested objects as compact JSON.
fn cell(field: &str, value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.replace(['\n', '\r', '\t'], " "),
        Value::Number(n) if is_time_field(field) => n
            .as_i64()
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| n.to_string()),
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => items
            .iter()
            .map(|v| cell("", v))
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

fn is_time_field(field: &str) -> bool {
    field.ends_with("_at") || matches!(field, "valid_from" | "publish_until" | "at")
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_is_a_row_per_item_with_aligned_columns() {
        let list = json!({
            "clients": [
                { "client_id": "a", "client_name": "billing", "created_at": 0 },
                { "client_id": "bbbb", "client_name": null, "grant_types": ["x", "y"] },
            ],
            "next": "bbbb",
        });
        assert_eq!(
            table(&list),
            "CLIENT_ID  CLIENT_NAME  CREATED_AT            GRANT_TYPES\n\
             a          billing      1970-01-01T00:00:00Z\n\
             bbbb       -                                  x,y\n\
             more: --after bbbb\n"
        );
    }

    #[test]
    fn an_object_is_field_and_value_and_long_list_cells_are_cut() {
        let shown = json!({ "id": "i1", "scopes": ["a", "b"], "subject": { "claim": "sub" } });
        assert_eq!(
            table(&shown),
            "FIELD    VALUE\nid       i1\nscopes   a,b\nsubject  {\"claim\":\"sub\"}\n"
        );
        let long = "x".repeat(60);
        let rows = rows_table(&[json!({ "k": long })], 10);
        assert_eq!(rows, "K\nxxxxxxxxx…\n");
        assert_eq!(table(&json!([])), "(none)\n");
    }
}
