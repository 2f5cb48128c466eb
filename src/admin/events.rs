//! The security events and admin changes of the audit trail (`audit`), filtered and paged for
//! `GET /admin/events` and `portcullis events`.

use super::AdminError;
use crate::store::{AuditEvent, EventFilter, Page, Store};

/// `GET /admin/events` and `portcullis events`: every filter optional, newest first.
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Unix seconds: events at or after.
    pub since: Option<i64>,
    /// Unix seconds: events before.
    pub until: Option<i64>,
    /// The event type, e.g. `sign_in.failure` or `client.update`.
    #[serde(alias = "type")]
    pub action: Option<String>,
    pub actor: Option<String>,
    /// What the event is about (a user id, client id, grant id, …).
    #[serde(alias = "subject")]
    pub target: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// One page of events, and the cursor of the next when this one is full.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A cursor is `<at>.<id>` of the last event shown: opaque to callers, but nothing secret.
fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (at, id) = cursor.split_once('.')?;
    Some((at.parse().ok()?, id.to_string()))
}

/// Reads one page of events.
pub async fn list(store: &Store, query: &EventQuery) -> Result<EventPage, AdminError> {
    let limit = query.limit.unwrap_or(50).clamp(1, Page::MAX);
    let before = match query.cursor.as_deref() {
        None => None,
        Some(c) => Some(parse_cursor(c).ok_or_else(|| {
            AdminError::InvalidRequest("cursor: not a cursor this server gave".into())
        })?),
    };
    let empty_is_none = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let filter = EventFilter {
        since: query.since,
        until: query.until,
        action: empty_is_none(&query.action),
        actor: empty_is_none(&query.actor),
        target: empty_is_none(&query.target),
        before,
        limit,
    };
    let events = store.find_audit_events(&filter).await?;
    let next_cursor = (events.len() as i64 == limit)
        .then(|| events.last().map(|e| format!("{}.{}", e.at, e.id)))
        .flatten();
    Ok(EventPage {
        events,
        next_cursor,
    })
}
