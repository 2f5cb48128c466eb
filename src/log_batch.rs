//! The server's log writer: lines are gathered in memory and written to stderr in batches, so
//! a request that logs (every issued token does, at INFO) does not make a `write` system call
//! of its own. Under load that call, and the scheduler wake-ups it caused, cost a quarter of
//! the token endpoint's throughput (BENCHMARKS.md, "Where the time goes").
//!
//! Order is kept: every line goes through one buffer. A WARN or ERROR line is written at once,
//! with everything before it, so problems are never held back; INFO and below wait at most
//! `FLUSH_EVERY` (a background thread) or until `MAX_BUFFERED` bytes are waiting. A process
//! killed with SIGKILL may lose the last `FLUSH_EVERY` of INFO lines, never a warning.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// The longest an INFO line waits in memory.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Bytes waiting that make the next line write them all.
const MAX_BUFFERED: usize = 64 * 1024;

/// Shared by every line: where they go, and what is waiting. Clones share one buffer.
pub struct LogBatch<W: Write + Send + 'static> {
    inner: Arc<Mutex<Pending<W>>>,
}

impl<W: Write + Send + 'static> Clone for LogBatch<W> {
    fn clone(&self) -> Self {
        LogBatch {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Pending<W> {
    out: W,
    buffer: Vec<u8>,
}

impl<W: Write + Send + 'static> LogBatch<W> {
    pub fn new(out: W) -> Self {
        LogBatch {
            inner: Arc::new(Mutex::new(Pending {
                out,
                buffer: Vec::with_capacity(MAX_BUFFERED),
            })),
        }
    }

    /// Starts the thread that writes waiting lines every `FLUSH_EVERY`, for as long as any
    /// clone of this batch exists.
    pub fn flush_periodically(&self) {
        let inner = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("portcullis-log".into())
            .spawn(move || {
                while let Some(inner) = inner.upgrade() {
                    LogBatch { inner }.flush();
                    std::thread::sleep(FLUSH_EVERY);
                }
            });
        if let Err(e) = spawned {
            // Without the thread, lines are written when the buffer fills or a warning comes.
            eprintln!("log: cannot start the flushing thread: {e}");
        }
    }

    /// Writes everything waiting.
    pub fn flush(&self) {
        let mut pending = self.lock();
        let Pending { out, buffer } = &mut *pending;
        if !buffer.is_empty() {
            // Nowhere to report a failing stderr; the lines are dropped rather than kept for ever.
            let _ = out.write_all(buffer).and_then(|()| out.flush());
            buffer.clear();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending<W>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One log line being formatted; it joins the batch when the formatter is done with it.
pub struct Line<'a, W: Write + Send + 'static> {
    batch: &'a LogBatch<W>,
    text: Vec<u8>,
    urgent: bool,
}

impl<W: Write + Send + 'static> Write for Line<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write + Send + 'static> Drop for Line<'_, W> {
    fn drop(&mut self) {
        let full = {
            let mut pending = self.batch.lock();
            pending.buffer.extend_from_slice(&self.text);
            pending.buffer.len() >= MAX_BUFFERED
        };
        if self.urgent || full {
            self.batch.flush();
        }
    }
}

impl<'a, W: Write + Send + 'static> MakeWriter<'a> for LogBatch<W> {
    type Writer = Line<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            batch: self,
            text: Vec::new(),
            urgent: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        Line {
            batch: self,
            text: Vec::with_capacity(256),
            // Level order: ERROR < WARN < INFO; WARN and ERROR are written at once.
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` whose bytes the test can read, counting the writes it was given.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut inner = self.0.lock().unwrap();
            inner.0.extend_from_slice(bytes);
            inner.1 += 1;
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
        fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    fn log(batch: &LogBatch<Sink>, level: Level, text: &str) {
        let mut line = batch.make_writer();
        line.urgent = level <= Level::WARN;
        line.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn info_lines_wait_and_a_warning_writes_them_in_order() {
        let sink = Sink::default();
        let batch = LogBatch::new(sink.clone());
        log(&batch, Level::INFO, "one\n");
        log(&batch, Level::INFO, "two\n");
        assert_eq!(sink.text(), "", "INFO lines wait");
        log(&batch, Level::WARN, "three\n");
        assert_eq!(sink.text(), "one\ntwo\nthree\n");
        assert_eq!(sink.writes(), 1, "one write for the three lines");
        log(&batch, Level::DEBUG, "four\n");
        batch.flush();
        assert_eq!(sink.text(), "one\ntwo\nthree\nfour\n");
    }

    #[test]
    fn a_full_buffer_is_written_without_waiting() {
        let sink = Sink::default();
        let batch = LogBatch::new(sink.clone());
        let line = "x".repeat(1023) + "\n";
        for _ in 0..MAX_BUFFERED / line.len() {
            log(&batch, Level::INFO, &line);
        }
        assert_eq!(sink.text().len(), MAX_BUFFERED);
    }

    #[test]
    fn the_thread_writes_waiting_lines() {
        let sink = Sink::default();
        let batch = LogBatch::new(sink.clone());
        batch.flush_periodically();
        log(&batch, Level::INFO, "later\n");
        let deadline = std::time::Instant::now() + FLUSH_EVERY * 20;
        while sink.text().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(FLUSH_EVERY / 4);
        }
        assert_eq!(sink.text(), "later\n");
    }
}
