//! The ceiling for full sign-in flows: argon2id password verifications per second through the
//! server's own code path (`users::Passwords::verify`: the configured OWASP parameters on the
//! hashing threads, one per core, each keeping its argon2 memory), with as many concurrent
//! callers as the flows bench has workers.
//!
//!   BENCH_CONNECTIONS="1 16 64" BENCH_DURATION=10 cargo bench --bench argon2
//!
//! Prints `| callers | verifications/s | p50 ms | p99 ms | done |`; exits 1 if a verification
//! failed (wrong answer or error), so a figure counts only when every check succeeded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::secret::Secret;
use portcullis::users::Passwords;

const PASSWORD: &str = "correct horse battery staple";

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split_whitespace()
        .map(|v| v.parse().expect("a positive integer"))
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let callers = env_list("BENCH_CONNECTIONS", "1 16 64");
    let seconds: u64 = std::env::var("BENCH_DURATION")
        .ok()
        .map(|v| v.trim_end_matches('s').parse().expect("whole seconds"))
        .unwrap_or(10);
    let passwords = Arc::new(Passwords::new());
    let hash = Arc::new(
        passwords
            .hash(Secret::new(PASSWORD))
            .await
            .expect("hash the password"),
    );
    let mut failed = false;
    println!("| callers | verifications/s | p50 ms | p99 ms | done |");
    println!("|---:|---:|---:|---:|---:|");
    for n in callers {
        let start = Instant::now();
        let deadline = start + Duration::from_secs(seconds);
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let hash = Arc::clone(&hash);
            let passwords = Arc::clone(&passwords);
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut bad = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    match passwords.verify(PASSWORD, &hash).await {
                        Ok(true) => latencies.push(t.elapsed()),
                        _ => bad += 1,
                    }
                }
                (latencies, bad)
            }));
        }
        let mut all = Vec::new();
        let mut bad = 0;
        for t in tasks {
            let (l, b) = t.await.expect("worker");
            all.extend(l);
            bad += b;
        }
        let elapsed = start.elapsed().as_secs_f64();
        all.sort();
        if bad > 0 {
            failed = true;
        }
        println!(
            "| {n} | {}{:.1} | {:.1} | {:.1} | {} |",
            if bad > 0 { "⚠ " } else { "" },
            all.len() as f64 / elapsed,
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            all.len()
        );
    }
    if failed {
        eprintln!("argon2 bench: some verifications failed");
        std::process::exit(1);
    }
}
