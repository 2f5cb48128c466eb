//! What each page is given: one typed context per template. Every field is always present
//! (the templates are strict); an absent optional value is `None`, which a template tests
//! with `{% if … %}`.

use serde::Serialize;

use super::templates;

/// A hidden form field carried through a page, e.g. the parameters of an authorization
/// request being resumed.
#[derive(Debug, Clone, Serialize)]
pub struct Hidden {
    pub name: String,
    pub value: String,
}

/// `signin.html`.
#[derive(Debug, Clone, Serialize)]
pub struct SignIn {
    /// The application the user signs in to.
    pub client_name: String,
    /// Where the form posts (same origin).
    pub action: String,
    pub csrf_token: String,
    pub hidden: Vec<Hidden>,
    /// Pre-filled username ("" for none), e.g. from `login_hint` or a failed attempt.
    pub username: String,
    /// Why the last attempt failed, in words for the user.
    pub error: Option<String>,
}

/// One requested scope, in words for the user.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ScopeView {
    /// The scope token itself.
    pub name: String,
    pub title: String,
    pub description: String,
}

/// `consent.html`.
#[derive(Debug, Clone, Serialize)]
pub struct Consent {
    pub client_name: String,
    /// Shown only when `https` (the page's `img-src` allows nothing else but `data:`).
    pub logo_uri: Option<String>,
    /// Who is signed in.
    pub username: String,
    pub scopes: Vec<ScopeView>,
    pub action: String,
    pub csrf_token: String,
    pub hidden: Vec<Hidden>,
}

/// `error.html`: a title and a plain explanation; never a cause or a stack trace.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorView {
    pub title: String,
    pub explanation: String,
}

impl ErrorView {
    pub fn new(title: impl Into<String>, explanation: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            explanation: explanation.into(),
        }
    }
}

/// `device_code.html`: where the user types the code their device shows (RFC 8628 §3.3).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceCodeEntry {
    pub action: String,
    pub csrf_token: String,
    /// Pre-filled ("" for none): from `verification_uri_complete`, or the last attempt.
    pub user_code: String,
    /// Why the last attempt failed, in words for the user.
    pub error: Option<String>,
}

/// `device_approve.html`: which application, on a device, asks for what (RFC 8628 §3.3, §5.4).
#[derive(Debug, Clone, Serialize)]
pub struct DeviceApproval {
    pub client_name: String,
    /// Shown only when `https`, as on the consent page.
    pub logo_uri: Option<String>,
    /// Who is signed in.
    pub username: String,
    /// The code the device shows, as `WDJB-MJHT`, for the user to compare.
    pub user_code: String,
    pub scopes: Vec<ScopeView>,
    pub action: String,
    pub csrf_token: String,
    pub hidden: Vec<Hidden>,
}

/// `device_done.html`: the decision is recorded; the device learns it when it next polls.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceDone {
    pub approved: bool,
    pub client_name: String,
}

/// `signed_out.html` needs nothing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SignedOut {}

/// Keeps only an `https` logo: anything else would not load under the page's policy, and a
/// `data:` URI from client metadata is not something to show unchecked.
pub fn https_logo(logo_uri: Option<&str>) -> Option<String> {
    logo_uri
        .filter(|u| url::Url::parse(u).is_ok_and(|u| u.scheme() == "https"))
        .map(str::to_string)
}

/// A scope in words for the consent page. `api` is the `(resource name, scope description)`
/// of an API scope a resource defines; the OIDC scopes (OIDC Core §5.4) have fixed text.
pub fn describe_scope(name: &str, api: Option<(&str, &str)>) -> ScopeView {
    let (title, description) = match name {
        "openid" => (
            "Sign you in".to_string(),
            "Confirm who you are, using your account here.".to_string(),
        ),
        "profile" => (
            "See your basic profile".to_string(),
            "Your name, username, picture and similar details.".to_string(),
        ),
        "email" => (
            "See your email address".to_string(),
            "Your email address and whether it has been verified.".to_string(),
        ),
        "address" => (
            "See your postal address".to_string(),
            "The postal address on your account.".to_string(),
        ),
        "phone" => (
            "See your phone number".to_string(),
            "Your phone number and whether it has been verified.".to_string(),
        ),
        "offline_access" => (
            "Stay connected".to_string(),
            "Keep this access while you are away, until it is taken back.".to_string(),
        ),
        _ => match api {
            Some((resource, description)) if !description.is_empty() => (
                description.to_string(),
                format!("Permission “{name}” on {resource}."),
            ),
            Some((resource, _)) => (
                format!("Use {resource}"),
                format!("Permission “{name}” on {resource}."),
            ),
            None => (
                format!("Permission “{name}”"),
                "A permission this application asks for.".to_string(),
            ),
        },
    };
    ScopeView {
        name: name.to_string(),
        title,
        description,
    }
}

/// A representative context for every page template: start-up renders each once so an
/// override that names a variable the page does not provide fails then, not on a user.
pub fn samples() -> Vec<(&'static str, minijinja::Value)> {
    use minijinja::value::Serde;
    let hidden = vec![Hidden {
        name: "request".into(),
        value: "sample".into(),
    }];
    vec![
        (
            templates::SIGNIN,
            minijinja::Value::from(Serde(SignIn {
                client_name: "Sample App".into(),
                action: "/authorize".into(),
                csrf_token: "sample".into(),
                hidden: hidden.clone(),
                username: "alice".into(),
                error: Some("The username or password is not correct.".into()),
            })),
        ),
        (
            templates::CONSENT,
            minijinja::Value::from(Serde(Consent {
                client_name: "Sample App".into(),
                logo_uri: Some("https://app.example/logo.png".into()),
                username: "alice".into(),
                scopes: vec![
                    describe_scope("openid", None),
                    describe_scope("read", Some(("Sample API", "Read your data"))),
                ],
                action: "/authorize".into(),
                csrf_token: "sample".into(),
                hidden,
            })),
        ),
        (
            templates::ERROR,
            minijinja::Value::from(Serde(ErrorView::new(
                "Something went wrong",
                "The request could not be completed.",
            ))),
        ),
        (
            templates::SIGNED_OUT,
            minijinja::Value::from(Serde(SignedOut {})),
        ),
        (
            templates::DEVICE_CODE,
            minijinja::Value::from(Serde(DeviceCodeEntry {
                action: "/device".into(),
                csrf_token: "sample".into(),
                user_code: "WDJB-MJHT".into(),
                error: Some("That code is not valid.".into()),
            })),
        ),
        (
            templates::DEVICE_APPROVE,
            minijinja::Value::from(Serde(DeviceApproval {
                client_name: "Sample TV".into(),
                logo_uri: Some("https://app.example/logo.png".into()),
                username: "alice".into(),
                user_code: "WDJB-MJHT".into(),
                scopes: vec![describe_scope("openid", None)],
                action: "/device/approve".into(),
                csrf_token: "sample".into(),
                hidden: vec![Hidden {
                    name: "user_code".into(),
                    value: "WDJB-MJHT".into(),
                }],
            })),
        ),
        (
            templates::DEVICE_DONE,
            minijinja::Value::from(Serde(DeviceDone {
                approved: true,
                client_name: "Sample TV".into(),
            })),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_as_words() {
        assert_eq!(
            describe_scope("email", None).title,
            "See your email address"
        );
        let api = describe_scope("invoices:read", Some(("Billing", "Read your invoices")));
        assert_eq!(api.title, "Read your invoices");
        assert!(api.description.contains("Billing"));
        assert!(describe_scope("x", None).title.contains('x'));
    }

    #[test]
    fn only_https_logos_are_shown() {
        assert_eq!(
            https_logo(Some("https://a.example/l.png")).as_deref(),
            Some("https://a.example/l.png")
        );
        assert_eq!(https_logo(Some("http://a.example/l.png")), None);
        assert_eq!(https_logo(Some("javascript:alert(1)")), None);
        assert_eq!(https_logo(None), None);
    }
}
