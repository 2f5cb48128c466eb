//! Requested scopes in words, for every page that asks a user to grant them (the consent page
//! of `/authorize`, the approval page of `/device`): the OpenID scopes have fixed text, an
//! API's scope the description its resource gives it (`views::describe_scope`).

use crate::oauth::client::Client;
use crate::oauth::resource::Resource;
use crate::oauth::scope::Scope;
use crate::store::{Store, StoreError};

use super::views::{self, ScopeView};

/// Each scope of `scope` in words, looked up among the APIs `client` may use.
pub async fn describe_scopes(
    store: &Store,
    client: &Client,
    scope: &Scope,
) -> Result<Vec<ScopeView>, StoreError> {
    let apis: Vec<Resource> = store
        .resources_by_identifiers(&client.meta.allowed_resources)
        .await?
        .into_iter()
        .filter_map(|r| Resource::from_row(r).ok())
        .collect();
    Ok(scope
        .iter()
        .map(|name| {
            let api = apis.iter().find_map(|r| {
                r.scopes
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| (r.name.as_str(), s.description.as_str()))
            });
            views::describe_scope(name, api)
        })
        .collect())
}
