//! `portcullis purge`: one housekeeping pass now, with each table's count as it goes.

use super::Context;

pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    eprintln!(
        "deleting expired rows, {} per statement…",
        ctx.config.housekeeping.batch_size
    );
    let counts = portcullis::tasks::purge(&store, &ctx.config, ctx.now, |table, n| {
        eprintln!("  {table}: {n} expired rows deleted")
    })
    .await?;
    eprintln!("done: {} rows", counts.total());
    let by_table: serde_json::Map<String, serde_json::Value> = counts
        .0
        .iter()
        .map(|(t, n)| (t.to_string(), (*n).into()))
        .collect();
    ctx.out.print(&by_table);
    store.close().await;
    Ok(())
}
