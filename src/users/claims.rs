//! OIDC Core §5.1 standard claims: the model stored as JSON in `users.claims`, and the checks
//! a value passes before it is stored.

use serde::{Deserialize, Serialize};

use super::UserError;

/// Longest value of any one claim, in characters.
pub const MAX_CLAIM_CHARS: usize = 2000;

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

/// OIDC Core §5.3.2: an empty claim is an absent one.
fn drop_empty(value: &mut Option<String>) {
    if value.as_deref().is_some_and(|s| s.trim().is_empty()) {
        *value = None;
    }
}

/// Checks every claim and drops empty ones. The messages name the field.
pub fn validate_claims(mut c: Claims) -> Result<Claims, UserError> {
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
            return Err(UserError::invalid(field, "at most 2000 characters"));
        }
        // §5.1.1: a formatted or street address may span lines.
        let allowed = |ch: char| address_multiline.contains(&field) && (ch == '\n' || ch == '\r');
        if v.chars().any(|ch| ch.is_control() && !allowed(ch)) {
            return Err(UserError::invalid(field, "no control characters"));
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
            return Err(UserError::invalid(field, message));
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
}
