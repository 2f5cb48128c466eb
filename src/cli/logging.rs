//! Logging on stderr: text or JSON, filtered by `PORTCULLIS_LOG`.

use portcullis::config::LogFormat;
use portcullis::log_batch::LogBatch;

/// The batched stderr of `serve` (`log_batch.rs`), flushed once more when the process ends.
static SERVER_LOG: std::sync::OnceLock<LogBatch<std::io::Stderr>> = std::sync::OnceLock::new();

/// `batched`: the server's lines go through `LogBatch`; other commands write each line at
/// once, in order with the progress they print.
pub fn init(format: LogFormat, batched: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    if batched {
        let batch = LogBatch::new(std::io::stderr());
        batch.flush_periodically();
        let _ = SERVER_LOG.set(batch.clone());
        install(format, filter, batch);
    } else {
        install(format, filter, std::io::stderr);
    }
}

/// Writes out what the server's batch still holds; called as the process ends.
pub fn flush() {
    if let Some(log) = SERVER_LOG.get() {
        log.flush();
    }
}

fn install<W>(format: LogFormat, filter: tracing_subscriber::EnvFilter, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    // Colour only for a person at a terminal: a log file or a collector gets plain text.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
