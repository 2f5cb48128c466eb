//! The crate's layers (ARCHITECTURE.md "Layers"): every `crate::` path in `src/` points down
//! the table below or sideways within one rank, never up; protocol code never names axum or
//! the server state; grants never import each other; no file in `src/` passes 600 lines.
//! Reads the source, so a new upward import fails here before review.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level modules of `src/` by rank: a module may use modules of a lower rank, and of its
/// own rank. `main.rs` and `cli/` are the binary and sit above everything (they are not read).
const RANKS: &[(&str, u8)] = &[
    ("names", 0),
    ("secret", 0),
    ("cache", 0),
    ("clock", 0),
    ("proxy", 0),
    ("log_batch", 0),
    ("store", 1),
    ("keys", 2),
    ("config", 3),
    ("audit", 4),
    ("users", 5),
    ("oauth", 6),
    ("error", 6),
    ("throttle", 6),
    // Entry points for fuzz/ and the parsers' property tests: thin wrappers over oauth/.
    ("fuzzing", 6),
    ("grants", 7),
    ("admin", 8),
    ("http", 9),
    ("state", 9),
    ("pages", 9),
    ("session", 9),
    ("rate_limit", 9),
    ("tasks", 10),
    ("lib", 10),
];

/// Below this rank no file may name the HTTP framework or the server state: protocol, admin
/// and store code is called with what it needs (`oauth::context::ProtocolContext` and narrower).
const EDGE: u8 = 9;
const EDGE_ONLY_CRATES: &[&str] = &["axum", "tower", "tower_http", "hyper"];

/// The one documented hand-off between grants: Entra's on-behalf-of form of the JWT bearer
/// grant is answered by the token exchange grant.
const GRANT_HAND_OFFS: &[(&str, &str)] = &[("jwt_bearer", "token_exchange")];

const MAX_LINES: usize = 600;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's path below `src/`, as `["oauth", "issue.rs"]`.
fn parts(path: &Path) -> Vec<String> {
    path.strip_prefix(src())
        .expect("under src")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// The top-level module a file belongs to (`None` for the binary's files).
fn top_module(path: &Path) -> Option<String> {
    let parts = parts(path);
    let first = parts[0].trim_end_matches(".rs").to_string();
    match first.as_str() {
        "main" | "cli" => None,
        _ => Some(first),
    }
}

fn rank(module: &str) -> Option<u8> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// The source without comments (line, doc and block) and without the contents of string
/// literals, so a path in prose or a URL in a string is not taken for an import.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident_char_before(&chars, i)
        {
            // Raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && next == Some('"') {
            // The character literal '"'.
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn ident_at(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Every module named right after `prefix` (`crate::` or `super::`), including each member
/// of a `prefix{a, b::c}` group.
fn paths_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        rest = &rest[at + prefix.len()..];
        if !boundary {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut expect_name = true;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => expect_name = true,
                    c if c.is_whitespace() => {}
                    _ if depth == 1 && expect_name => {
                        let name = ident_at(&group[k..]);
                        if !name.is_empty() {
                            found.insert(name);
                        }
                        expect_name = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident_at(rest);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Whether `code` names `krate` as a path root (`axum::…` or `use axum`), not as part of a
/// longer identifier.
fn names_crate(code: &str, krate: &str) -> bool {
    let pattern = format!("{krate}::");
    code.match_indices(&pattern).any(|(at, _)| {
        code[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
    })
}

fn all_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    files
}

/// What a layer violation looks like, one line per offending path.
fn upward_imports(files: &[PathBuf]) -> Vec<String> {
    let mut problems = Vec::new();
    for path in files {
        let Some(module) = top_module(path) else {
            continue;
        };
        let shown = parts(path).join("/");
        let Some(own) = rank(&module) else {
            problems.push(format!("{shown}: module `{module}` has no rank in RANKS"));
            continue;
        };
        let code = code_only(&std::fs::read_to_string(path).expect("read source"));
        for used in paths_after(&code, "crate::") {
            if used == module {
                continue;
            }
            match rank(&used) {
                Some(r) if r > own => problems.push(format!(
                    "{shown}: `{module}` (rank {own}) imports `crate::{used}` (rank {r})"
                )),
                Some(_) => {}
                None => problems.push(format!("{shown}: `crate::{used}` has no rank in RANKS")),
            }
        }
        if own < EDGE {
            for krate in EDGE_ONLY_CRATES {
                if names_crate(&code, krate) {
                    problems.push(format!(
                        "{shown}: `{module}` names `{krate}` below the edge"
                    ));
                }
            }
            if code.contains("AppState") {
                problems.push(format!(
                    "{shown}: `{module}` names `AppState` below the edge"
                ));
            }
        }
    }
    problems
}

/// Grants import `oauth/`, never each other (the hand-offs above aside).
fn grants_importing_grants(files: &[PathBuf]) -> Vec<String> {
    let grants_dir = src().join("grants");
    let siblings: BTreeSet<String> = files
        .iter()
        .filter(|p| p.parent() == Some(grants_dir.as_path()))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|m| m != "mod")
        .collect();
    let mut problems = Vec::new();
    for path in files.iter().filter(|p| p.starts_with(&grants_dir)) {
        let own = path.file_stem().unwrap().to_string_lossy().into_owned();
        if own == "mod" {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(path).expect("read source"));
        let mut used = paths_after(&code, "super::");
        for after_grants in code.split("crate::grants::").skip(1) {
            used.insert(ident_at(after_grants));
        }
        for other in used.intersection(&siblings) {
            if *other != own && !GRANT_HAND_OFFS.contains(&(own.as_str(), other.as_str())) {
                problems.push(format!("grants/{own}.rs imports the grant `{other}`"));
            }
        }
    }
    problems
}

#[test]
fn imports_point_down_the_layers() {
    let problems = upward_imports(&all_files());
    assert!(
        problems.is_empty(),
        "upward imports (see ARCHITECTURE.md \"Layers\"):\n{}",
        problems.join("\n")
    );
}

#[test]
fn grants_do_not_import_each_other() {
    let problems = grants_importing_grants(&all_files());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_source_file_passes_the_line_limit() {
    let long: Vec<String> = all_files()
        .iter()
        .filter_map(|p| {
            let lines = std::fs::read_to_string(p)
                .expect("read source")
                .lines()
                .count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", parts(p).join("/")))
        })
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}

/// The checker itself: it must see what it is meant to catch, or the tests above pass
/// vacuously.
#[test]
fn the_checker_sees_imports_and_skips_prose() {
    let code = code_only(
        "use crate::{store::Store, keys::{KeyRing, sign}};\n\
         // crate::http in a comment\n\
         /// [`crate::state::AppState`] in a doc comment\n\
         let s = \"crate::admin in a string\";\n\
         let r = r#\"crate::pages\"#;\n\
         fn f(x: crate::oauth::Client) {}\n\
         let c = '\"'; crate::grants::x();\n",
    );
    let found = paths_after(&code, "crate::");
    let expected: BTreeSet<String> = ["store", "keys", "oauth", "grants"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(found, expected);
    assert!(names_crate("use axum::Router;", "axum"));
    assert!(!names_crate("use my_axum::Router;", "axum"));
    assert!(all_files().len() > 50, "the source tree was not found");
}
