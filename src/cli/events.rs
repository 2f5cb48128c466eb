//! `portcullis events`: the audit trail, as `GET /admin/events` gives it.

use portcullis::admin::events::{self, EventQuery};

use super::Context;
use crate::EventsArgs;

pub async fn run(ctx: &Context, a: EventsArgs) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let query = EventQuery {
        since: a.since,
        until: a.until,
        action: a.action,
        actor: a.actor,
        target: a.target,
        limit: a.limit,
        cursor: a.cursor,
    };
    ctx.out.print(&events::list(&store, &query).await?);
    store.close().await;
    Ok(())
}
