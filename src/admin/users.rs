//! Local user accounts: OIDC Core §5.1 standard claims, argon2id passwords at the OWASP
//! parameters, and `authenticate`, which the sign-in page and the password grant call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::{Actor, Page};
use crate::error::OAuthError;
use crate::secret::Secret;
use crate::state::AppState;
use crate::store::{AuditEvent, Store, StoreError, UserRow};

/// OWASP Password Storage Cheat Sheet: argon2id with m = 19 MiB, t = 2, p = 1.
pub const ARGON2_M_COST: u32 = 19_456;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;
pub const MAX_USERNAME_CHARS: usize = 200;
/// Longest value of any one claim, in characters.
pub const MAX_CLAIM_CHARS: usize = 2000;

const PARAMS: Params = match Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, None) {
    Ok(params) => params,
    Err(_) => panic!("the OWASP argon2 parameters are valid"),
};

/// Verified against when there is no hash of the user's own (unknown user, no password), so
/// the answer takes as long as a real check. Same parameters as new hashes (a test checks).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$7ZRF54OljqaWyAoQqaewkA$\
                          SseZLbpLl0ORpGTn2jl0WRAZE6y+DPHAm/B7+rAfy6I";

/// The standard claims a user may have (OIDC Core §5.1), besides the server-set `sub` and
/// `updated_at`.
pub const CLAIM_NAMES: [&str; 18] = [
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
];

/// Names a request may not set: the server assigns them.
const SERVER_SET: [&str; 4] = ["id", "sub", "created_at", "updated_at"];

/// OIDC Core §5.1.1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// OIDC Core §5.1 standard claims, stored as JSON in `users.claims`. Absent claims are omitted.
/// Unknown names are refused by `UserRequest::from_json`, which names them; not by serde, so
/// that the OpenAPI schemas that flatten these claims into a user stay open to the other fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// When absent, the username stands in (`User::preferred_username`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// A local account. `id` is the stable opaque `sub`. The password hash is never part of it,
/// so nothing that shows a `User` can show the hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(flatten)]
    pub claims: Claims,
}

impl User {
    pub fn from_row(row: UserRow) -> Result<User, OAuthError> {
        let claims = serde_json::from_str(&row.claims).map_err(|e| {
            OAuthError::server_error().with_detail(format!("user {}: claims: {e}", row.id))
        })?;
        Ok(User {
            id: row.id,
            username: row.username,
            disabled: row.disabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
            claims,
        })
    }

    /// OIDC Core §5.1: `preferred_username`, or the username when none is set.
    pub fn preferred_username(&self) -> &str {
        self.claims
            .preferred_username
            .as_deref()
            .unwrap_or(&self.username)
    }

    /// Every claim the user has, for the ID token and userinfo to pick from by scope
    /// (OIDC Core §5.4): `sub`, the claims that are set, `preferred_username` (the username
    /// when unset) and `updated_at`.
    pub fn oidc_claims(&self) -> Map<String, Value> {
        let mut claims = match serde_json::to_value(&self.claims) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        claims.insert("sub".into(), json!(self.id));
        claims.insert(
            "preferred_username".into(),
            json!(self.preferred_username()),
        );
        claims.insert("updated_at".into(), json!(self.updated_at));
        claims
    }
}

/// A create or replace request: `{username, password?, disabled?, …claims}`.
#[derive(Debug, Default)]
pub struct UserRequest {
    /// Required to create; absent in a replace keeps the current one.
    pub username: Option<String>,
    /// Absent keeps the current password (on create: the user has none and cannot sign in
    /// with one).
    pub password: Option<Secret>,
    /// Absent keeps the current state (on create: enabled), so a replace that leaves it out
    /// never re-enables an account.
    pub disabled: Option<bool>,
    /// Replaces every claim; `None` keeps them (what the CLI's enable and disable send).
    pub claims: Option<Claims>,
}

impl UserRequest {
    /// The admin API's JSON body: the wrong shape, an unknown claim or a server-set name is a
    /// 400 naming the field. Values are checked by `create` and `update`.
    pub fn from_json(value: Value) -> Result<UserRequest, OAuthError> {
        let Value::Object(mut map) = value else {
            return Err(OAuthError::invalid_request(
                "the body must be a JSON object",
            ));
        };
        let username = match map.remove("username") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(bad("username", "must be a string")),
        };
        let password = match map.remove("password") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Secret::new(s)),
            Some(_) => return Err(bad("password", "must be a string")),
        };
        let disabled = match map.remove("disabled") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => return Err(bad("disabled", "must be true or false")),
        };
        if let Some(name) = map.keys().find(|k| SERVER_SET.contains(&k.as_str())) {
            return Err(bad(name, "set by the server"));
        }
        if let Some(name) = map.keys().find(|k| !CLAIM_NAMES.contains(&k.as_str())) {
            return Err(bad(name, "unknown claim"));
        }
        let claims = serde_path_to_error::deserialize(Value::Object(map))
            .map_err(|e| bad(&e.path().to_string(), &e.inner().to_string()))?;
        Ok(UserRequest {
            username,
            password,
            disabled,
            claims: Some(claims),
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

fn bad(field: &str, message: &str) -> OAuthError {
    OAuthError::invalid_request(format!("{field}: {message}"))
}

fn not_found() -> OAuthError {
    OAuthError::not_found("no such user")
}

fn conflict(e: StoreError) -> OAuthError {
    match e {
        StoreError::Conflict => OAuthError::conflict("username: already taken"),
        other => other.into(),
    }
}

/// Usernames compare case-insensitively: they are stored lower-cased, so `Alice` and `alice`
/// cannot be two accounts. 1–200 characters, no whitespace or control characters.
pub fn normalize_username(raw: &str) -> Result<String, OAuthError> {
    let name = raw.to_lowercase();
    if name.is_empty() || name.chars().count() > MAX_USERNAME_CHARS {
        return Err(bad("username", "1 to 200 characters"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("username", "no whitespace or control characters"));
    }
    Ok(name)
}

fn check_password(password: &Secret) -> Result<(), OAuthError> {
    let n = password.expose().chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(bad("password", "8 to 1024 characters"));
    }
    Ok(())
}

/// Password work handed to the hashing threads.
type HashJob = Box<dyn FnOnce() + Send>;

/// A fixed set of threads, one per core, that run every password hash and verification. One
/// hash holds 19 MiB and a core for tens of milliseconds, so running more at once than there
/// are cores only adds memory: a flood of sign-ins queues here. The threads are fixed (not
/// tokio's blocking pool) for memory too: glibc gives each thread that allocates such a block an
/// arena of its own and keeps the freed block there, so on the blocking pool's coming and going
/// threads a sign-in load held 350–530 MiB (bench/run.sh); here it is one block per core.
/// Process-wide: it guards a local resource, not shared state.
static HASHERS: LazyLock<std::sync::mpsc::Sender<HashJob>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
    let queue = Arc::new(std::sync::Mutex::new(queue));
    for i in 0..cores {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("portcullis-hash-{i}"))
            .spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job, not while running it.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            // Start-up of the process's hashing threads: without them no password can be checked.
            .expect("start a password hashing thread");
    }
    jobs
});

/// Runs CPU-heavy password work on the hashing threads, at most one job per core.
async fn off_thread<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, OAuthError> {
    let (done, result) = tokio::sync::oneshot::channel();
    HASHERS
        .send(Box::new(move || {
            // The caller may have stopped waiting; the work is done either way.
            let _ = done.send(job());
        }))
        .map_err(|e| OAuthError::server_error().with_detail(format!("password threads: {e}")))?;
    result
        .await
        .map_err(|e| OAuthError::server_error().with_detail(format!("password task: {e}")))
}

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// An argon2id PHC string of `password`; `hash_password` makes its own random salt.
pub async fn hash_password(password: Secret) -> Result<String, OAuthError> {
    off_thread(move || {
        PasswordHasher::<PasswordHash>::hash_password(&argon2id(), password.expose().as_bytes())
            .map(|h| h.to_string())
    })
    .await?
    .map_err(|e| OAuthError::server_error().with_detail(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (with the hash's own parameters).
pub async fn verify_password(password: &str, hash: &str) -> Result<bool, OAuthError> {
    let (password, hash) = (Secret::new(password), hash.to_string());
    off_thread(move || match PasswordHash::new(&hash) {
        Ok(parsed) => verify_in_thread_memory(password.expose().as_bytes(), &parsed),
        Err(e) => {
            tracing::error!("a stored password hash does not parse: {e}");
            false
        }
    })
    .await
}

/// The most argon2 memory (1 KiB blocks) a hashing thread keeps between verifications: four
/// times the configured cost. A stored hash asking for more (imported with other parameters)
/// is verified with memory of its own, freed afterwards.
const MAX_KEPT_BLOCKS: usize = 4 * PARAMS.block_count();

thread_local! {
    /// The argon2 working memory of this hashing thread, reused by every verification it runs.
    /// Allocating 19 MiB per verification and freeing it made glibc raise its mmap threshold
    /// and keep the freed blocks in per-thread arenas: RSS under a sign-in load stayed above
    /// 200 MiB (BENCHMARKS.md). One block per hashing thread is all a flood of sign-ins costs.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Verifies `password` against a parsed PHC hash with the hash's own algorithm, version and
/// parameters (as `PasswordVerifier` does), computing in this thread's kept memory.
fn verify_in_thread_memory(password: &[u8], hash: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(hash.algorithm.as_str()),
        Params::try_from(hash),
    ) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut computed = vec![0u8; expected.len()];
    let hashed = if blocks > MAX_KEPT_BLOCKS {
        argon2.hash_password_into(password, salt, &mut computed)
    } else {
        ARGON2_MEMORY.with_borrow_mut(|memory| {
            if memory.len() < blocks {
                memory.resize(blocks, argon2::Block::new());
            }
            argon2.hash_password_into_with_memory(
                password,
                salt,
                &mut computed,
                &mut memory[..blocks],
            )
        })
    };
    hashed.is_ok() && bool::from(computed.ct_eq(expected.as_bytes()))
}

/// Passwords verified against `DUMMY_HASH` (unknown users, users without a password).
static DUMMY_CHECKS: AtomicU64 = AtomicU64::new(0);

/// How many passwords this process verified against the dummy hash; tests read it to see that
/// an unknown user costs an argon2 verification too.
pub fn dummy_password_checks() -> u64 {
    DUMMY_CHECKS.load(Ordering::Relaxed)
}

/// The user with this username and password, if the account exists, is enabled and has that
/// password. Unknown users and users without a password are checked against a dummy hash, so
/// the time taken does not tell whether an account exists.
pub async fn authenticate(
    store: &Store,
    username: &str,
    password: &str,
) -> Result<Option<User>, OAuthError> {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Ok(None);
    }
    let row = match normalize_username(username) {
        Ok(name) => store.find_user_by_username(&name).await?,
        Err(_) => None,
    };
    let own_hash = row.as_ref().and_then(|r| r.password_hash.as_deref());
    if own_hash.is_none() {
        DUMMY_CHECKS.fetch_add(1, Ordering::Relaxed);
    }
    let matches = verify_password(password, own_hash.unwrap_or(DUMMY_HASH)).await?;
    match row {
        Some(row) if matches && row.password_hash.is_some() && !row.disabled => {
            Ok(Some(User::from_row(row)?))
        }
        _ => Ok(None),
    }
}

/// OIDC Core §5.3.2: an empty claim is an absent one.
fn drop_empty(value: &mut Option<String>) {
    if value.as_deref().is_some_and(|s| s.trim().is_empty()) {
        *value = None;
    }
}

/// Checks every claim and drops empty ones. The messages name the field.
fn validate_claims(mut c: Claims) -> Result<Claims, OAuthError> {
    let address_multiline = ["address.formatted", "address.street_address"];
    let mut address = c.address.take().unwrap_or_default();
    let fields: [(&str, &mut Option<String>); 21] = [
        ("name", &mut c.name),
        ("given_name", &mut c.given_name),
        ("family_name", &mut c.family_name),
        ("middle_name", &mut c.middle_name),
        ("nickname", &mut c.nickname),
        ("preferred_username", &mut c.preferred_username),
        ("profile", &mut c.profile),
        ("picture", &mut c.picture),
        ("website", &mut c.website),
        ("email", &mut c.email),
        ("gender", &mut c.gender),
        ("birthdate", &mut c.birthdate),
        ("zoneinfo", &mut c.zoneinfo),
        ("locale", &mut c.locale),
        ("phone_number", &mut c.phone_number),
        ("address.formatted", &mut address.formatted),
        ("address.street_address", &mut address.street_address),
        ("address.locality", &mut address.locality),
        ("address.region", &mut address.region),
        ("address.postal_code", &mut address.postal_code),
        ("address.country", &mut address.country),
    ];
    for (field, value) in fields {
        drop_empty(value);
        let Some(v) = value.as_deref() else {
            continue;
        };
        if v.chars().count() > MAX_CLAIM_CHARS {
            return Err(bad(field, "at most 2000 characters"));
        }
        // §5.1.1: a formatted or street address may span lines.
        let allowed = |ch: char| address_multiline.contains(&field) && (ch == '\n' || ch == '\r');
        if v.chars().any(|ch| ch.is_control() && !allowed(ch)) {
            return Err(bad(field, "no control characters"));
        }
        let problem = match field {
            "email" => (!plausible_email(v)).then_some("not a plausible email address"),
            "profile" | "picture" | "website" => {
                (!http_url(v)).then_some("must be an absolute http or https URL")
            }
            "birthdate" => (!birthdate(v)).then_some("YYYY-MM-DD or YYYY (year 0000: not given)"),
            "zoneinfo" => (!zoneinfo(v)).then_some("a tz database name such as Europe/Paris"),
            "locale" => (!locale(v)).then_some("a BCP 47 language tag such as en-US"),
            "phone_number" => (!phone(v)).then_some("a telephone number such as +1 425 555 1212"),
            _ => None,
        };
        if let Some(message) = problem {
            return Err(bad(field, message));
        }
    }
    c.address = (address != Address::default()).then_some(address);
    Ok(c)
}

/// `local@domain` with characters a mail address can hold (RFC 5322 dot-atoms, and non-ASCII
/// for RFC 6531). Plausible, not deliverable: only sending mail proves that.
fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let atom = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let dotted = |part: &str, ok: &dyn Fn(char) -> bool| {
        part.split('.')
            .all(|w| !w.is_empty() && w.chars().all(|c| ok(c) || !c.is_ascii()))
    };
    let label = |c: char| c.is_ascii_alphanumeric() || c == '-';
    s.len() <= 254
        && local.len() <= 64
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && dotted(local, &atom)
        && dotted(domain, &label)
        && domain
            .split('.')
            .all(|l| l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
}

fn http_url(s: &str) -> bool {
    url::Url::parse(s)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// OIDC Core §5.1: ISO 8601 `YYYY-MM-DD`, or `YYYY` alone; year `0000` means it was not given.
fn birthdate(s: &str) -> bool {
    let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
    match s.split('-').collect::<Vec<_>>()[..] {
        [y] => digits(y, 4),
        [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => {
            // With the year unknown, 29 February is a possible birthday.
            let year = match y.parse::<i32>().unwrap_or(0) {
                0 => 2000,
                y => y,
            };
            let Ok(month) = time::Month::try_from(m.parse::<u8>().unwrap_or(0)) else {
                return false;
            };
            time::Date::from_calendar_date(year, month, d.parse().unwrap_or(0)).is_ok()
        }
        _ => false,
    }
}

/// The shape of a tz database name (`Europe/Paris`, `America/Argentina/Buenos_Aires`, `UTC`,
/// `Etc/GMT+5`); whether the zone exists is the relying party's to judge.
fn zoneinfo(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+-".contains(c))
        })
}

/// RFC 5646 shape: a 2–8 letter language, then 1–8 character subtags. OIDC Core §5.1 notes
/// that some implementations use `_` as the separator, so both are accepted.
fn locale(s: &str) -> bool {
    let mut tags = s.split(['-', '_']);
    let language = tags.next().unwrap_or_default();
    s.len() <= 64
        && (2..=8).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_alphabetic())
        && tags.all(|t| (1..=8).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// E.164 is recommended (OIDC Core §5.1) but not required: digits with common separators, a
/// leading `+`, and an RFC 3966 `;ext=` extension.
fn phone(s: &str) -> bool {
    let (number, ext) = s.split_once(";ext=").unwrap_or((s, "1"));
    let body = number.strip_prefix('+').unwrap_or(number);
    number.len() <= 64
        && body.chars().any(|c| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || " -().".contains(c))
        && !ext.is_empty()
        && ext.chars().all(|c| c.is_ascii_digit())
}

fn claims_json(claims: &Claims) -> Result<String, OAuthError> {
    serde_json::to_string(claims).map_err(|e| OAuthError::server_error().with_detail(e.to_string()))
}

/// What the audit trail records of a user: never the password, nor the claims' values.
fn audit_detail(row: &UserRow, claims: &Claims, password: &str) -> Value {
    let names: Vec<String> = match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    json!({
        "username": row.username,
        "disabled": row.disabled,
        "claims": names,
        "password": password,
    })
}

async fn new_hash(password: Option<Secret>) -> Result<Option<String>, OAuthError> {
    match password {
        Some(p) => {
            check_password(&p)?;
            Ok(Some(hash_password(p).await?))
        }
        None => Ok(None),
    }
}

pub async fn create(
    store: &Store,
    actor: &Actor,
    req: UserRequest,
    now: i64,
) -> Result<User, OAuthError> {
    let username = normalize_username(
        req.username
            .as_deref()
            .ok_or_else(|| bad("username", "required"))?,
    )?;
    let claims = validate_claims(req.claims.unwrap_or_default())?;
    if let Some(p) = &req.password {
        check_password(p)?;
    }
    // Spares the hashing for a name already taken; the unique index still decides races.
    if store.find_user_by_username(&username).await?.is_some() {
        return Err(conflict(StoreError::Conflict));
    }
    let row = UserRow {
        id: uuid::Uuid::new_v4().to_string(),
        username,
        password_hash: new_hash(req.password).await?,
        claims: claims_json(&claims)?,
        disabled: req.disabled.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    let password = if row.password_hash.is_some() {
        "set"
    } else {
        "none"
    };
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "user.create",
        &row.id,
        audit_detail(&row, &claims, password),
    );
    store.insert_user(&row, &audit).await.map_err(conflict)?;
    User::from_row(row)
}

pub async fn get(store: &Store, id: &str) -> Result<User, OAuthError> {
    User::from_row(store.get_user(id).await?.ok_or_else(not_found)?)
}

/// A user by id or, failing that, by username (the CLI takes either).
pub async fn find(store: &Store, id_or_username: &str) -> Result<User, OAuthError> {
    if let Some(row) = store.get_user(id_or_username).await? {
        return User::from_row(row);
    }
    let Ok(username) = normalize_username(id_or_username) else {
        return Err(not_found());
    };
    User::from_row(
        store
            .find_user_by_username(&username)
            .await?
            .ok_or_else(not_found)?,
    )
}

pub async fn list(store: &Store, page: &Page) -> Result<UserList, OAuthError> {
    let limit = page.limit();
    let rows = store.list_users(page.after.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let users = rows
        .into_iter()
        .take(limit as usize)
        .map(User::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next = more.then(|| users.last().map(|u| u.id.clone())).flatten();
    Ok(UserList { users, next })
}

/// Replaces the claims; changes the username, `disabled` and the password where the request
/// gives them (see `UserRequest`).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: &str,
    req: UserRequest,
    now: i64,
) -> Result<User, OAuthError> {
    let store = &state.store;
    let existing = User::from_row(store.get_user(id).await?.ok_or_else(not_found)?)?;
    let username = match req.username.as_deref() {
        Some(u) => normalize_username(u)?,
        None => existing.username.clone(),
    };
    let claims = match req.claims {
        Some(c) => validate_claims(c)?,
        None => existing.claims,
    };
    let password_changed = req.password.is_some();
    let row = UserRow {
        id: id.to_string(),
        username,
        password_hash: new_hash(req.password).await?,
        claims: claims_json(&claims)?,
        disabled: req.disabled.unwrap_or(existing.disabled),
        created_at: existing.created_at,
        updated_at: now,
    };
    let password = if password_changed {
        "changed"
    } else {
        "unchanged"
    };
    let audit = AuditEvent::new(
        now,
        &actor.0,
        "user.update",
        id,
        audit_detail(&row, &claims, password),
    );
    if !store.update_user(&row, &audit).await.map_err(conflict)? {
        return Err(not_found());
    }
    // Every request that disables cuts off (idempotent), so a disable whose revocation failed
    // can simply be repeated.
    if req.disabled == Some(true) {
        cut_off(state, id, now).await?;
    }
    User::from_row(row)
}

pub async fn set_password(
    store: &Store,
    actor: &Actor,
    id: &str,
    password: Secret,
    now: i64,
) -> Result<(), OAuthError> {
    check_password(&password)?;
    if store.get_user(id).await?.is_none() {
        return Err(not_found());
    }
    let hash = hash_password(password).await?;
    let audit = AuditEvent::new(now, &actor.0, "user.set_password", id, json!({}));
    if store.set_user_password(id, &hash, now, &audit).await? {
        Ok(())
    } else {
        Err(not_found())
    }
}

pub async fn delete(state: &AppState, actor: &Actor, id: &str, now: i64) -> Result<(), OAuthError> {
    if state.store.get_user(id).await?.is_none() {
        return Err(not_found());
    }
    // Revoked before the row goes, so a failure leaves a user that can be deleted again;
    // and once more after, for a grant that raced in between.
    cut_off(state, id, now).await?;
    let audit = AuditEvent::new(now, &actor.0, "user.delete", id, json!({}));
    if !state.store.delete_user(id, &audit).await? {
        return Err(not_found());
    }
    cut_off(state, id, now).await
}

/// Cuts the user off (`oauth::revoke::cut_off_user`): grants revoked, sessions ended.
async fn cut_off(state: &AppState, user_id: &str, now: i64) -> Result<(), OAuthError> {
    Ok(crate::oauth::revoke::cut_off_user(state, user_id, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&parsed).unwrap();
        let cost = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
        assert_eq!(cost(&params), cost(&PARAMS));
        assert_eq!(cost(&PARAMS), (19_456, 2, 1));
        assert_eq!(parsed.version, Some(19));
    }

    /// The kept-memory verification answers what the crate's own verifier answers, for our
    /// parameters, for cheaper and dearer ones (imported hashes), and in any order on one
    /// thread (the memory left by one verification does not leak into the next).
    #[test]
    fn verifying_in_kept_memory_agrees_with_the_crate() {
        use argon2::password_hash::PasswordVerifier;
        let cheap = Params::new(64, 1, 1, None).unwrap();
        let dear = Params::new(4 * ARGON2_M_COST + 8, 1, 1, None).unwrap();
        let hashes: Vec<String> = [PARAMS, cheap, dear]
            .into_iter()
            .map(|params| {
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                PasswordHasher::<PasswordHash>::hash_password(&argon2, b"correct horse")
                    .unwrap()
                    .to_string()
            })
            .chain([DUMMY_HASH.to_string()])
            .collect();
        for hash in hashes.iter().chain(hashes.iter().rev()) {
            let parsed = PasswordHash::new(hash).unwrap();
            for password in [&b"correct horse"[..], b"correct horsf"] {
                let crate_says = argon2id().verify_password(password, &parsed).is_ok();
                assert_eq!(
                    verify_in_thread_memory(password, &parsed),
                    crate_says,
                    "{hash} {password:?}"
                );
            }
        }
        let ours = PasswordHash::new(&hashes[0]).unwrap();
        assert!(verify_in_thread_memory(b"correct horse", &ours));
        assert!(!verify_in_thread_memory(b"Correct horse", &ours));
        // A hash without its output verifies nothing.
        let mut bare = ours.clone();
        bare.hash = None;
        assert!(!verify_in_thread_memory(b"correct horse", &bare));
    }

    #[test]
    fn claim_names_are_the_fields_of_claims() {
        let all: Claims = serde_json::from_value(json!({
            "name": "a", "given_name": "a", "family_name": "a", "middle_name": "a",
            "nickname": "a", "preferred_username": "a", "profile": "a", "picture": "a",
            "website": "a", "email": "a", "email_verified": true, "gender": "a",
            "birthdate": "a", "zoneinfo": "a", "locale": "a", "phone_number": "a",
            "phone_number_verified": true, "address": {},
        }))
        .unwrap();
        let value = serde_json::to_value(all).unwrap();
        let mut names: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = CLAIM_NAMES.to_vec();
        names.sort();
        expected.sort();
        assert_eq!(names, expected);
    }

    #[test]
    fn claim_syntax() {
        for ok in [
            "a@example.com",
            "first.last+tag@sub.example.org",
            "josé@exämple.de",
            "a@localhost",
        ] {
            assert!(plausible_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@example.com",
            "a@",
            "a@@b",
            "a b@c.d",
            "a..b@c.d",
            "a@-b.c",
            "a@b..c",
            ".a@b.c",
        ] {
            assert!(!plausible_email(bad), "{bad}");
        }
        for ok in ["2000-02-29", "0000-02-29", "1980", "0000-12-31"] {
            assert!(birthdate(ok), "{ok}");
        }
        for bad in [
            "1999-02-29",
            "2000-13-01",
            "80",
            "2000-1-1",
            "2000/01/01",
            "2000-01",
        ] {
            assert!(!birthdate(bad), "{bad}");
        }
        for ok in [
            "Europe/Paris",
            "America/Argentina/Buenos_Aires",
            "UTC",
            "Etc/GMT+5",
        ] {
            assert!(zoneinfo(ok), "{ok}");
        }
        for bad in ["", "/Paris", "Europe//Paris", "Europe/Paris ", "+05:00"] {
            assert!(!zoneinfo(bad), "{bad}");
        }
        for ok in ["en", "en-US", "en_US", "zh-Hant-TW", "de-CH-1901"] {
            assert!(locale(ok), "{ok}");
        }
        for bad in ["", "e", "en-", "en US", "en-toolongsubtag"] {
            assert!(!locale(bad), "{bad}");
        }
        for ok in [
            "+1 (425) 555-1212",
            "+14255551212",
            "+1 425 555 1212;ext=5678",
        ] {
            assert!(phone(ok), "{ok}");
        }
        for bad in ["call me", "+", "+1 425;ext=", "12+34"] {
            assert!(!phone(bad), "{bad}");
        }
    }

    #[test]
    fn usernames_fold_case_and_refuse_spaces() {
        assert_eq!(normalize_username("Alice").unwrap(), "alice");
        for bad in ["", "a b", "a\tb", "a\u{7}b", &"x".repeat(201)] {
            assert!(normalize_username(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_username(&"x".repeat(200)).is_ok());
    }
}
