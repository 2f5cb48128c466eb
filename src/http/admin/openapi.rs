//! The OpenAPI 3.1 description of the admin API, served at `/admin/openapi.json`, and Swagger
//! UI over it at `/admin/docs/`.
//!
//! The description is not written by hand: `mod.rs` registers every admin handler with
//! `utoipa_axum::routes!`, which adds the handler's `#[utoipa::path]` operation to the
//! description as it adds the handler to the router. `AdminApi` holds what no handler says
//! (title, tags, the error body); `complete` adds what the admin-token layer does to every
//! operation (the bearer scheme, the 401). The document is serialised once, when the router is
//! built. Swagger UI is the copy inside the `utoipa-swagger-ui` crate (its `vendored` feature:
//! nothing is downloaded at build or run time), served from memory under a policy that lets
//! the page load and call nothing but this server.

use std::borrow::Cow;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Type,
};

use crate::error::{ErrorBody, OAuthError};
use crate::http::extract::Path;
use crate::names::path::admin;
use crate::state::AppState;

/// The name of the bearer scheme in the description: Swagger UI's "Authorize" button asks for it.
pub const ADMIN_TOKEN_SCHEME: &str = "admin_token";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portcullis admin API",
        description = "Manage the clients, resource servers (APIs), trusted issuers, users and \
            signing keys of a Portcullis authorization server. Every operation takes an admin \
            token as a bearer token (`Authorization: Bearer …`): the `admin_token` setting or one \
            made with `portcullis admin-token create`. Errors are RFC 6749 §5.2 JSON \
            (`OAuthError`). Times are Unix seconds.",
    ),
    tags(
        (name = "clients", description = "OAuth clients: RFC 7591 metadata, RFC 7592 management"),
        (name = "resources", description = "Resource servers (APIs): the audiences of access tokens (RFC 8707)"),
        (name = "issuers", description = "Trusted JWT issuers and SAML identity providers (RFC 7521 §5.1)"),
        (name = "users", description = "Local user accounts (OIDC Core §5.1 claims)"),
        (name = "keys", description = "Token signing keys and their rotation"),
        (name = "audit", description = "The trail of admin changes"),
        (name = "legacy", description = "Who still uses the implicit flow or the password grant"),
    ),
    components(schemas(ErrorBody)),
)]
pub struct AdminApi;

/// Adds what the admin-token layer (`require_admin`) does to every operation: the bearer
/// scheme, required everywhere, and the 401 `invalid_token` answer with its `WWW-Authenticate`
/// challenge (RFC 6750 §3).
pub fn complete(mut description: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = description.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        ADMIN_TOKEN_SCHEME,
        utoipa::openapi::security::SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An admin token: the `admin_token` setting, or one made with \
                     `portcullis admin-token create`.",
                ))
                .build(),
        ),
    );
    let unauthorized = ResponseBuilder::new()
        .description("`invalid_token`: the admin token is missing, unknown or expired")
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Bearer realm=\"portcullis-admin\"` (RFC 6750 §3)"))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("OAuthError")))
                .build(),
        )
        .build();
    components
        .responses
        .insert("Unauthorized".into(), RefOr::T(unauthorized));
    description.security = Some(vec![SecurityRequirement::new(
        ADMIN_TOKEN_SCHEME,
        Vec::<String>::new(),
    )]);
    for item in description.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation.responses.responses.insert(
                "401".into(),
                RefOr::Ref(Ref::from_response_name("Unauthorized")),
            );
        }
    }
    description
}

/// The Swagger UI files that are served (the crate's copy holds more: source maps, other
/// bundles, an OAuth redirect page with an inline script, none of them needed).
const UI_FILES: [&str; 8] = [
    "index.html",
    "index.css",
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "swagger-initializer.js",
    "favicon-32x32.png",
    "favicon-16x16.png",
];

/// Scripts, styles and images from this server only, and calls (the description, "Try it out")
/// to this server only. Swagger UI sets inline styles; it runs no inline script.
const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

struct UiFile {
    name: &'static str,
    content_type: HeaderValue,
    bytes: Bytes,
}

/// `/admin/openapi.json` and `/admin/docs/`, both built here once.
pub fn routes(description: utoipa::openapi::OpenApi) -> Router<Arc<AppState>> {
    // A description that does not serialise is a bug in an annotation: fail at start-up.
    let json = Bytes::from(
        serde_json::to_vec(&description).expect("the admin API description serialises"),
    );
    let files: Arc<[UiFile]> = ui_files().into();
    Router::new()
        .route(
            admin::OPENAPI,
            get(move || {
                let json = json.clone();
                async move {
                    let mut response = json.into_response();
                    let headers = response.headers_mut();
                    headers.insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                    headers.insert(
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    );
                    response
                }
            }),
        )
        // Swagger UI's page loads its files by relative URLs, so it lives at `docs/`.
        .route(
            admin::DOCS,
            get(|| async { Redirect::to(&format!("{}/", admin::DOCS)) }),
        )
        .route(&format!("{}/", admin::DOCS), {
            let files = files.clone();
            get(move || {
                let files = files.clone();
                async move { ui_file(&files, "index.html") }
            })
        })
        .route(
            &format!("{}/{{file}}", admin::DOCS),
            get(move |Path(name): Path<String>| {
                let files = files.clone();
                async move { ui_file(&files, &name) }
            }),
        )
}

/// Swagger UI's files, with its start-up script pointed at our description. Swagger UI's
/// defaults are kept except: no online validator (it would send the description elsewhere),
/// and the token is not kept in the browser's storage.
fn ui_files() -> Vec<UiFile> {
    let config = Arc::new(
        utoipa_swagger_ui::Config::new([admin::OPENAPI])
            .validator_url("none")
            .persist_authorization(false)
            .filter(true),
    );
    UI_FILES
        .into_iter()
        .map(|name| {
            let file = utoipa_swagger_ui::serve(name, config.clone())
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("Swagger UI's {name} is in utoipa-swagger-ui"));
            UiFile {
                name,
                content_type: HeaderValue::from_str(&file.content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
                bytes: match file.bytes {
                    Cow::Borrowed(bytes) => Bytes::from_static(bytes),
                    Cow::Owned(bytes) => Bytes::from(bytes),
                },
            }
        })
        .collect()
}

fn ui_file(files: &[UiFile], name: &str) -> Response {
    let Some(file) = files.iter().find(|f| f.name == name) else {
        return OAuthError::not_found("no such file").into_response();
    };
    let mut response = file.bytes.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, file.content_type.clone());
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
