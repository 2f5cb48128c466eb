//! `portcullis doctor`: checks a configuration and the deployment it points at
//! the way an operator would, and says for each check what is fine and what to fix. It only
//! reads: no migration, no key generation, no KEK file is created.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use portcullis::config::{Config, SigningAlg};
use portcullis::keys::kek::Kek;
use portcullis::keys::kek_file::{self, KekSource};
use portcullis::store::{SigningKeyRow, Store};

use super::output::{Output, rows_table};

/// Active keys older than this should be rotated (a common 90-day practice; nothing in the
/// RFCs mandates a period).
pub const ROTATION_DAYS: i64 = 90;
/// Clock differences beyond this many seconds are worth fixing: expiry, `nbf` and key
/// activation times are compared across machines.
pub const MAX_SKEW: i64 = 5;
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One line of the report. `fix` is empty when there is nothing to do.
#[derive(Debug, Serialize)]
pub struct Check {
    pub check: String,
    pub status: Status,
    pub detail: String,
    pub fix: String,
}

fn ok(check: &str, detail: impl Into<String>) -> Check {
    Check {
        check: check.into(),
        status: Status::Ok,
        detail: detail.into(),
        fix: String::new(),
    }
}

fn warn(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check: check.into(),
        status: Status::Warn,
        detail: detail.into(),
        fix: fix.into(),
    }
}

fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        check: check.into(),
        status: Status::Fail,
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// The configuration did not load: the one check there is.
pub fn config_error(e: &portcullis::config::ConfigError) -> Check {
    fail(
        "config",
        e.to_string(),
        format!("fix {} (env {})", e.field, e.env),
    )
}

/// Prints the checks (a table, or `{"checks": [...]}`); an error when any failed, so the exit
/// status is non-zero.
pub fn report(out: Output, checks: &[Check]) -> anyhow::Result<()> {
    match out {
        Output::Json => out.print(&serde_json::json!({ "checks": checks })),
        Output::Table => {
            let rows: Vec<serde_json::Value> = checks
                .iter()
                .map(|c| serde_json::to_value(c).unwrap_or_default())
                .collect();
            // Whole cells: what to fix must not be cut.
            print!("{}", rows_table(&rows, usize::MAX));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed > 0 {
        anyhow::bail!("{failed} of {} checks failed", checks.len());
    }
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Every check, in the order an operator would look.
pub async fn run(config: &Config, config_warnings: &[String]) -> Vec<Check> {
    let mut checks = vec![if config_warnings.is_empty() {
        ok("config", "valid")
    } else {
        warn(
            "config",
            config_warnings.join("; "),
            "see README \"Configuration\"",
        )
    }];
    let issuer = config.issuer();
    checks.push(issuer_scheme(&issuer));
    let (discovery, issuer_date) = issuer_discovery(&issuer).await;
    checks.push(discovery);
    let (kek_row, kek) = kek_check(config);
    checks.push(kek_row);
    let now = unix_now();
    match database(config).await {
        Err(check) => checks.push(check),
        Ok(store) => {
            checks.push(ok("database", describe_database(config, &store)));
            checks.push(migrations(&store).await);
            checks.extend(signing_keys(&store, kek.as_ref(), now).await);
            checks.push(database_clock(&store).await);
            store.close().await;
        }
    }
    if let Some(date) = issuer_date {
        checks.push(issuer_clock(&date));
    }
    checks
}

/// RFC 8414 §2: the issuer is an https URL; http is for development on this machine only.
fn issuer_scheme(issuer: &str) -> Check {
    const NAME: &str = "issuer https";
    let Ok(url) = url::Url::parse(issuer) else {
        return fail(NAME, format!("{issuer} is not a URL"), "set issuer");
    };
    match url.scheme() {
        "https" => ok(NAME, issuer),
        _ if portcullis::oauth::uri::is_loopback_host(url.host_str()) => warn(
            NAME,
            format!("{issuer} is http on loopback: fine for development"),
            "in production serve https and set issuer (PORTCULLIS_ISSUER) to the https URL",
        ),
        _ => fail(
            NAME,
            format!("{issuer} is not https"),
            "serve https (e.g. behind a TLS proxy) and set issuer (PORTCULLIS_ISSUER) to that URL",
        ),
    }
}

/// GETs discovery and compares its `issuer` with ours (OIDC Discovery §4.3: they must be
/// identical). Returns the check and the server's `Date` header, for the clock check.
async fn issuer_discovery(issuer: &str) -> (Check, Option<String>) {
    const NAME: &str = "issuer discovery";
    let url = format!("{issuer}{}", portcullis::names::path::DISCOVERY_OIDC);
    let client = reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build();
    let response = match client {
        Ok(client) => client.get(&url).send().await,
        Err(e) => return (fail(NAME, e.to_string(), "report this"), None),
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return (
                fail(
                    NAME,
                    format!("cannot reach {url}: {}", error_chain(&e)),
                    "start the server, or set issuer (PORTCULLIS_ISSUER) to the URL clients use",
                ),
                None,
            );
        }
    };
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|d| d.to_str().ok())
        .map(str::to_string);
    let status = response.status();
    if !status.is_success() {
        return (
            fail(
                NAME,
                format!("{url} answered {status}"),
                "check that issuer (PORTCULLIS_ISSUER) is this server's public URL",
            ),
            date,
        );
    }
    let said = response
        .json::<serde_json::Value>()
        .await
        .ok()
        .and_then(|d| d.get("issuer").and_then(|i| i.as_str()).map(str::to_string));
    let check = match said {
        Some(said) if said == issuer => ok(NAME, format!("{url} names this issuer")),
        Some(said) => fail(
            NAME,
            format!("discovery says issuer {said}, this config says {issuer}"),
            "set the same issuer (PORTCULLIS_ISSUER) on every node and here",
        ),
        None => fail(
            NAME,
            format!("{url} is not a discovery document"),
            "check that issuer (PORTCULLIS_ISSUER) points at Portcullis",
        ),
    };
    (check, date)
}

/// The innermost cause ("Connection refused", "dns error"): the outer ones repeat the URL.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

async fn database(config: &Config) -> Result<Store, Check> {
    const NAME: &str = "database";
    let url = &config.database_url;
    // Store::connect creates a missing SQLite file; the doctor must not.
    if let Some(file) = sqlite_file(url)
        && !Path::new(&file).exists()
    {
        return Err(fail(
            NAME,
            format!("{file} does not exist"),
            "check database_url (PORTCULLIS_DATABASE_URL), or create it with `portcullis migrate`",
        ));
    }
    let connect = tokio::time::timeout(HTTP_TIMEOUT, Store::connect(url)).await;
    match connect {
        Ok(Ok(store)) => match store.ping().await {
            Ok(()) => Ok(store),
            Err(e) => Err(fail(NAME, e.to_string(), "check the database server")),
        },
        Ok(Err(e)) => Err(fail(
            NAME,
            format!("cannot connect to {}: {e}", redacted_url(url)),
            "check database_url (PORTCULLIS_DATABASE_URL) and that the database is up",
        )),
        Err(_) => Err(fail(
            NAME,
            format!("no answer from {} in {HTTP_TIMEOUT:?}", redacted_url(url)),
            "check database_url (PORTCULLIS_DATABASE_URL) and that the database is up",
        )),
    }
}

fn sqlite_file(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or(rest);
    (!file.is_empty() && file != ":memory:" && !rest.contains("mode=memory"))
        .then(|| file.to_string())
}

/// The database URL without its password (or any query, which may hold one).
fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("redacted"));
            }
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "database_url".into(),
    }
}

fn describe_database(config: &Config, store: &Store) -> String {
    format!(
        "{} at {} answers",
        store.backend(),
        redacted_url(&config.database_url)
    )
}

async fn migrations(store: &Store) -> Check {
    const NAME: &str = "migrations";
    let status = match store.migration_status().await {
        Ok(s) => s,
        Err(e) => return fail(NAME, e.to_string(), "check the database"),
    };
    if !status.unknown.is_empty() {
        return fail(
            NAME,
            format!(
                "applied migrations this version does not know: {:?} (a newer Portcullis ran here)",
                status.unknown
            ),
            "run the newer Portcullis, or restore a backup taken before it",
        );
    }
    if !status.broken.is_empty() {
        return fail(
            NAME,
            format!(
                "migrations failed part-way or changed since applied: {:?}",
                status.broken
            ),
            "restore a backup, or repair them by hand from migrations/",
        );
    }
    if !status.pending.is_empty() {
        let names: Vec<String> = status
            .pending
            .iter()
            .map(|(v, d)| format!("{v:04} {d}"))
            .collect();
        return fail(
            NAME,
            format!("not applied: {}", names.join(", ")),
            "run `portcullis migrate` (every start also applies them)",
        );
    }
    ok(NAME, format!("all {} applied", status.applied))
}

/// Where the KEK comes from, and the KEK itself when it can be read without creating it.
fn kek_check(config: &Config) -> (Check, Option<Kek>) {
    const NAME: &str = "key-encryption key";
    let set_it = "set key_encryption_key (PORTCULLIS_KEY_ENCRYPTION_KEY; `openssl rand -base64 \
                  32`) and move the keys to it with `portcullis keys rotate-kek --new-kek-file`";
    match portcullis::kek_source(config) {
        KekSource::Configured => {
            let kek = portcullis::configured_kek(config).ok().flatten();
            let check = if config.key_encryption_key_old.is_some() {
                warn(
                    NAME,
                    "key_encryption_key_old is set: a KEK change is in progress",
                    "run `portcullis keys rotate-kek`, then remove key_encryption_key_old on \
                     every node",
                )
            } else {
                ok(NAME, "key_encryption_key is set")
            };
            (check, kek)
        }
        KekSource::Ephemeral => (
            warn(
                NAME,
                "in-memory database: a random KEK per process",
                "use a database file or Postgres, with key_encryption_key",
            ),
            None,
        ),
        KekSource::GeneratedFile(path) => {
            let pending = kek_file::pending_path(&path);
            if pending.exists() {
                return (
                    warn(
                        NAME,
                        format!(
                            "{} is left from an interrupted rotate-kek",
                            pending.display()
                        ),
                        "start the server once: it keeps whichever file opens the keys",
                    ),
                    None,
                );
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => (
                    warn(
                        NAME,
                        format!(
                            "the generated development key in {} (beside the database)",
                            path.display()
                        ),
                        set_it,
                    ),
                    Kek::from_base64(&text).ok(),
                ),
                Err(_) => (
                    warn(
                        NAME,
                        format!("{} does not exist yet", path.display()),
                        set_it,
                    ),
                    None,
                ),
            }
        }
    }
}

/// One check per algorithm (discovery offers all three, so all are in use): an active key,
/// that it opens under the KEK, that a successor takes over before it stops being published,
/// and its age.
async fn signing_keys(store: &Store, kek: Option<&Kek>, now: i64) -> Vec<Check> {
    let rows = match store.list_signing_keys(now).await {
        Ok(rows) => rows,
        Err(e) => {
            return vec![fail(
                "signing keys",
                e.to_string(),
                "run `portcullis migrate`",
            )];
        }
    };
    let mut checks = Vec::new();
    if let Some(kek) = kek {
        let sealed_elsewhere: Vec<&str> = rows
            .iter()
            .filter(|r| !kek.opens(&r.private_key, &r.kid))
            .map(|r| r.kid.as_str())
            .collect();
        if !sealed_elsewhere.is_empty() {
            checks.push(fail(
                "signing keys",
                format!("the KEK does not open keys {}", sealed_elsewhere.join(", ")),
                "set key_encryption_key to the KEK they were sealed with (after a rotate-kek, \
                 the new one)",
            ));
        }
    }
    for alg in SigningAlg::ALL {
        checks.push(signing_key(&rows, alg, now));
    }
    checks
}

fn signing_key(rows: &[SigningKeyRow], alg: SigningAlg, now: i64) -> Check {
    let name = format!("signing key {}", alg.as_str());
    let rotate = format!("run `portcullis keys rotate --alg {}`", alg.as_str());
    // Rows are newest first, so the first one already valid signs (as KeyRing::sign picks).
    let of_alg: Vec<&SigningKeyRow> = rows.iter().filter(|r| r.alg == alg.as_str()).collect();
    let Some(active) = of_alg.iter().find(|r| r.valid_from <= now) else {
        return fail(&name, "no active key", rotate);
    };
    let age_days = (now - active.valid_from) / 86_400;
    if let Some(until) = active.publish_until {
        let successor = of_alg
            .iter()
            .any(|r| r.valid_from > active.valid_from && r.valid_from < until);
        if !successor {
            return warn(
                &name,
                format!(
                    "{} stops being published in {} s and no newer key takes over",
                    active.kid,
                    until - now
                ),
                rotate,
            );
        }
    }
    if age_days > ROTATION_DAYS {
        return warn(
            &name,
            format!("{} has signed for {age_days} days", active.kid),
            format!("{rotate} (recommended every {ROTATION_DAYS} days)"),
        );
    }
    ok(&name, format!("{} active for {age_days} days", active.kid))
}

async fn database_clock(store: &Store) -> Check {
    const NAME: &str = "clock (database)";
    match store.database_time().await {
        Ok(db) => skew(NAME, "the database's", db - unix_now()),
        Err(e) => fail(NAME, e.to_string(), "check the database"),
    }
}

fn issuer_clock(date: &str) -> Check {
    const NAME: &str = "clock (issuer)";
    match parse_http_date(date) {
        Some(theirs) => skew(NAME, "the issuer's", theirs - unix_now()),
        None => warn(NAME, format!("unreadable Date header {date:?}"), ""),
    }
}

fn skew(name: &str, whose: &str, seconds: i64) -> Check {
    if seconds.abs() > MAX_SKEW {
        warn(
            name,
            format!("{whose} clock is {seconds:+} s from this machine's"),
            "synchronise clocks (NTP): expiry and key activation compare times across machines",
        )
    } else {
        ok(name, format!("within {MAX_SKEW} s ({seconds:+} s)"))
    }
}

/// RFC 9110 §5.6.7 IMF-fixdate, the only form servers may send: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(text: &str) -> Option<i64> {
    let format = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .ok()?;
    let at = time::PrimitiveDateTime::parse(text.trim(), &format).ok()?;
    Some(at.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, valid_from: i64, publish_until: Option<i64>) -> SigningKeyRow {
        SigningKeyRow {
            kid: kid.into(),
            alg: "ES256".into(),
            private_key: Vec::new(),
            public_jwk: String::new(),
            created_at: valid_from,
            valid_from,
            publish_until,
        }
    }

    #[test]
    fn http_dates_parse() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn key_checks_follow_the_ring() {
        let day = 86_400;
        let now = 1_000 * day;
        let alg = SigningAlg::ES256;
        assert_eq!(signing_key(&[], alg, now).status, Status::Fail);
        let young = [key("a", now - day, None)];
        assert_eq!(signing_key(&young, alg, now).status, Status::Ok);
        let old = [key("a", now - 100 * day, None)];
        assert_eq!(signing_key(&old, alg, now).status, Status::Warn);
        // Retiring with a successor scheduled before it goes: fine.
        let handover = [
            key("b", now + 60, None),
            key("a", now - day, Some(now + 600)),
        ];
        assert_eq!(signing_key(&handover, alg, now).status, Status::Ok);
        let orphan = [key("a", now - day, Some(now + 600))];
        assert_eq!(signing_key(&orphan, alg, now).status, Status::Warn);
        let future_only = [key("b", now + 60, None)];
        assert_eq!(signing_key(&future_only, alg, now).status, Status::Fail);
    }

    #[test]
    fn database_passwords_are_not_shown() {
        let shown =
            redacted_url("postgres://app:s3cret@db.internal:5432/portcullis?sslmode=require");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("db.internal"), "{shown}");
    }
}
