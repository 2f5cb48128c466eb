//! argon2id password hashing at the OWASP Password Storage Cheat Sheet parameters, on a fixed
//! set of hashing threads that each keep their argon2 memory between verifications.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use subtle::ConstantTimeEq;

use super::UserError;
use crate::secret::Secret;

/// OWASP Password Storage Cheat Sheet: argon2id with m = 19 MiB, t = 2, p = 1.
pub const ARGON2_M_COST: u32 = 19_456;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;

const PARAMS: Params = match Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, None) {
    Ok(params) => params,
    Err(_) => panic!("the OWASP argon2 parameters are valid"),
};

/// Verified against when there is no hash of the user's own (unknown user, no password), so
/// the answer takes as long as a real check. Same parameters as new hashes (a test checks).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$7ZRF54OljqaWyAoQqaewkA$\
                          SseZLbpLl0ORpGTn2jl0WRAZE6y+DPHAm/B7+rAfy6I";

/// A new password's length: 8 to 1024 characters (NIST SP 800-63B §5.1.1.2).
pub fn check_password(password: &Secret) -> Result<(), UserError> {
    let n = password.expose().chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(UserError::invalid("password", "8 to 1024 characters"));
    }
    Ok(())
}

/// Password work handed to the hashing threads.
type HashJob = Box<dyn FnOnce() + Send>;

/// Every password hash and verification of one server, run on a fixed set of threads, one per
/// core, started at the first use. One hash holds 19 MiB and a core for tens of milliseconds,
/// so running more at once than there are cores only adds memory: a flood of sign-ins queues
/// here. The threads are fixed (not tokio's blocking pool) for memory too: glibc gives each
/// thread that allocates such a block an arena of its own and keeps the freed block there, so
/// on the blocking pool's coming and going threads a sign-in load held 350–530 MiB
/// (bench/run.sh); here it is one block per core. The threads end when this value is dropped.
#[derive(Default)]
pub struct Passwords {
    jobs: OnceLock<Sender<HashJob>>,
    /// Passwords verified against `DUMMY_HASH` (unknown users, users without a password).
    dummy_checks: AtomicU64,
}

impl Passwords {
    pub fn new() -> Passwords {
        Passwords::default()
    }

    /// How many passwords were verified against the dummy hash; tests read it to see that an
    /// unknown user costs an argon2 verification too.
    pub fn dummy_checks(&self) -> u64 {
        self.dummy_checks.load(Ordering::Relaxed)
    }

    /// An argon2id PHC string of `password`; `hash_password` makes its own random salt.
    pub async fn hash(&self, password: Secret) -> Result<String, UserError> {
        self.off_thread(move || {
            PasswordHasher::<PasswordHash>::hash_password(&argon2id(), password.expose().as_bytes())
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| UserError::Hashing(format!("hashing a password: {e}")))
    }

    /// Whether `password` matches the PHC string `hash` (with the hash's own parameters).
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, UserError> {
        let (password, hash) = (Secret::new(password), hash.to_string());
        self.off_thread(move || match PasswordHash::new(&hash) {
            Ok(parsed) => verify_in_thread_memory(password.expose().as_bytes(), &parsed),
            Err(e) => {
                tracing::error!("a stored password hash does not parse: {e}");
                false
            }
        })
        .await
    }

    /// Verifies `password` against the dummy hash, for an account with no hash of its own: the
    /// check costs what a real one does, and matches nothing.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), UserError> {
        self.dummy_checks.fetch_add(1, Ordering::Relaxed);
        self.verify(password, DUMMY_HASH).await?;
        Ok(())
    }

    /// Runs CPU-heavy password work on the hashing threads, at most one job per core.
    async fn off_thread<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, UserError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.threads()?
            .send(Box::new(move || {
                // The caller may have stopped waiting; the work is done either way.
                let _ = done.send(job());
            }))
            .map_err(|e| UserError::Hashing(format!("password threads: {e}")))?;
        result
            .await
            .map_err(|e| UserError::Hashing(format!("password task: {e}")))
    }

    /// The queue of the hashing threads, which the first call starts.
    fn threads(&self) -> Result<&Sender<HashJob>, UserError> {
        if let Some(jobs) = self.jobs.get() {
            return Ok(jobs);
        }
        let jobs = start_threads()
            .map_err(|e| UserError::Hashing(format!("starting password threads: {e}")))?;
        // Two first calls at once: the loser's threads end as its queue is dropped.
        Ok(self.jobs.get_or_init(|| jobs))
    }
}

fn start_threads() -> std::io::Result<Sender<HashJob>> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (jobs, queue) = std::sync::mpsc::channel::<HashJob>();
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..cores {
        let queue = queue.clone();
        std::thread::Builder::new()
            .name(format!("portcullis-hash-{i}"))
            .spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job, not while running it.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })?;
    }
    Ok(jobs)
}

fn argon2id() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

/// The most argon2 memory (1 KiB blocks) a hashing thread keeps between verifications: four
/// times the configured cost. A stored hash asking for more (imported with other parameters)
/// is verified with memory of its own, freed afterwards.
const MAX_KEPT_BLOCKS: usize = 4 * PARAMS.block_count();

thread_local! {
    /// The argon2 working memory of this hashing thread, reused by every verification it runs.
    /// Allocating 19 MiB per verification and freeing it made glibc raise its mmap threshold
    /// and keep the freed blocks in per-thread arenas: RSS under a sign-in load stayed above
    /// 200 MiB (BENCHMARKS.md). One block per hashing thread is all a flood of sign-ins costs.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Verifies `password` against a parsed PHC hash with the hash's own algorithm, version and
/// parameters (as `PasswordVerifier` does), computing in this thread's kept memory.
fn verify_in_thread_memory(password: &[u8], hash: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(hash.algorithm.as_str()),
        Params::try_from(hash),
    ) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut computed = vec![0u8; expected.len()];
    let hashed = if blocks > MAX_KEPT_BLOCKS {
        argon2.hash_password_into(password, salt, &mut computed)
    } else {
        ARGON2_MEMORY.with_borrow_mut(|memory| {
            if memory.len() < blocks {
                memory.resize(blocks, argon2::Block::new());
            }
            argon2.hash_password_into_with_memory(
                password,
                salt,
                &mut computed,
                &mut memory[..blocks],
            )
        })
    };
    hashed.is_ok() && bool::from(computed.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&parsed).unwrap();
        let cost = |p: &Params| (p.m_cost(), p.t_cost(), p.p_cost());
        assert_eq!(cost(&params), cost(&PARAMS));
        assert_eq!(cost(&PARAMS), (19_456, 2, 1));
        assert_eq!(parsed.version, Some(19));
    }

    /// The kept-memory verification answers what the crate's own verifier answers, for our
    /// parameters, for cheaper and dearer ones (imported hashes), and in any order on one
    /// thread (the memory left by one verification does not leak into the next).
    #[test]
    fn verifying_in_kept_memory_agrees_with_the_crate() {
        use argon2::password_hash::PasswordVerifier;
        let cheap = Params::new(64, 1, 1, None).unwrap();
        let dear = Params::new(4 * ARGON2_M_COST + 8, 1, 1, None).unwrap();
        let hashes: Vec<String> = [PARAMS, cheap, dear]
            .into_iter()
            .map(|params| {
                let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                PasswordHasher::<PasswordHash>::hash_password(&argon2, b"correct horse")
                    .unwrap()
                    .to_string()
            })
            .chain([DUMMY_HASH.to_string()])
            .collect();
        for hash in hashes.iter().chain(hashes.iter().rev()) {
            let parsed = PasswordHash::new(hash).unwrap();
            for password in [&b"correct horse"[..], b"correct horsf"] {
                let crate_says = argon2id().verify_password(password, &parsed).is_ok();
                assert_eq!(
                    verify_in_thread_memory(password, &parsed),
                    crate_says,
                    "{hash} {password:?}"
                );
            }
        }
        let ours = PasswordHash::new(&hashes[0]).unwrap();
        assert!(verify_in_thread_memory(b"correct horse", &ours));
        assert!(!verify_in_thread_memory(b"Correct horse", &ours));
        // A hash without its output verifies nothing.
        let mut bare = ours.clone();
        bare.hash = None;
        assert!(!verify_in_thread_memory(b"correct horse", &bare));
    }
}
