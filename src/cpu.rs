//! CPU-heavy work — parsing feeds, lists and pages, sanitizing, extracting articles — runs
//! here, off the async workers, so that one hostile 8 MiB page cannot starve the scheduler,
//! the other sources' polls or the systemd watchdog.
//!
//! A small bounded pool: as many threads as the machine has cores, started once and kept
//! (more would only contend for the cores, and every extra thread brings a malloc arena
//! that the daemon's resident set pays for — tokio's blocking pool starts a new thread
//! whenever none is idle at that instant, and measured 30 MB more at 2,000 feeds). Jobs
//! wait in a queue; their callers are the polls, whose number is bounded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// A job for the pool.
type Job = Box<dyn FnOnce() + Send>;

/// The stack of a pool thread: generous, so that a deeply nested document can never
/// overflow it (the parsers are iterative where it matters; this is the margin).
const STACK_SIZE: usize = 16 * 1024 * 1024;

/// The pool's queue; its threads are started on first use.
static POOL: LazyLock<Option<mpsc::Sender<Job>>> = LazyLock::new(start_pool);

fn start_pool() -> Option<mpsc::Sender<Job>> {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let (sender, receiver) = mpsc::channel::<Job>();
    let receiver = Arc::new(Mutex::new(receiver));
    let mut started = 0;
    for i in 0..cores {
        let receiver = Arc::clone(&receiver);
        let spawned = std::thread::Builder::new()
            .name(format!("feedcrawler-cpu-{i}"))
            .stack_size(STACK_SIZE)
            .spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = receiver.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => tracing::error!(error = %e, "cannot start a parsing thread"),
        }
    }
    (started > 0).then_some(sender)
}

/// The most malloc arenas the process keeps (glibc's default is eight per core).
///
/// glibc gives each thread that allocates while another holds an arena a new arena, and
/// every arena keeps its own freed pages: the async workers, this pool and the store's
/// threads each ended up with one. Measured on the 2,000-feed farm (`once`, peak RSS):
/// default 58–65 MB, `2` 52–54 MB, `1` 52 MB but the pool's threads then contend for one
/// lock. Set before any thread starts (`MALLOC_ARENA_MAX` in the environment still wins).
pub const MALLOC_ARENAS: i32 = 2;

/// Caps the process's malloc arenas at [`MALLOC_ARENAS`] unless the operator set
/// `MALLOC_ARENA_MAX`; call it before starting any thread. A no-op off glibc.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; called while the process has
        // one thread, so no allocation races it.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// Why the work gave no result.
#[derive(Debug, thiserror::Error)]
pub enum CpuError {
    /// The work panicked (a bug on some input); the input's source fails, nothing else.
    #[error("internal error while {what}: {message}")]
    Panicked {
        /// What was being done.
        what: &'static str,
        /// The panic's message.
        message: String,
    },
    /// The pool could not take the work (no thread could be started).
    #[error("no thread to run {what} on")]
    Unavailable {
        /// What was being done.
        what: &'static str,
    },
}

/// Runs `work` on the pool and waits for its result; `what` names it in errors ("parsing
/// a list"). A panic inside `work` is caught and becomes [`CpuError::Panicked`].
pub async fn run<T, F>(what: &'static str, work: F) -> Result<T, CpuError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = reply.send(catch_unwind(AssertUnwindSafe(work)));
    });
    let sender = POOL.as_ref().ok_or(CpuError::Unavailable { what })?;
    sender.send(job).map_err(|_| CpuError::Unavailable { what })?;
    match answer.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(payload)) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            tracing::error!(what, message, "work panicked");
            Err(CpuError::Panicked { what, message })
        }
        Err(_) => Err(CpuError::Unavailable { what }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_and_panics_come_back_as_values() {
        assert_eq!(run("adding", || 2 + 2).await.ok(), Some(4));
        let failed = run("failing", || -> u32 { panic!("boom") }).await;
        assert!(
            matches!(&failed, Err(CpuError::Panicked { what: "failing", message }) if message == "boom"),
            "{failed:?}"
        );
        // The pool survives the panic.
        assert_eq!(run("adding again", || 3 + 3).await.ok(), Some(6));
    }

    #[tokio::test]
    async fn a_finished_job_frees_its_thread_before_its_caller_looks() {
        // Finished jobs whose callers are not polled must not hold every thread.
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let mut parked: Vec<_> = (0..cores).map(|i| Box::pin(run("parked", move || i))).collect();
        for job in &mut parked {
            // Start each job but do not wait for it.
            let _ = futures_util::poll!(job.as_mut());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let done = tokio::time::timeout(std::time::Duration::from_secs(5), run("another", || 7)).await;
        assert_eq!(done.ok().and_then(Result::ok), Some(7));
    }

    #[test]
    fn deep_recursion_fits_the_pool_stack() {
        fn depth(n: u32) -> u32 {
            // A frame of a little over 256 bytes that the optimizer cannot remove.
            let pad = std::hint::black_box([n as u8; 256]);
            if n == 0 {
                0
            } else {
                1 + depth(n - 1) + u32::from(pad[0]) - u32::from(pad[255])
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        // 20,000 frames of ~300-400 bytes: far more than a default 2 MiB thread stack holds.
        let got = runtime.block_on(run("recursing", || depth(20_000)));
        assert_eq!(got.ok(), Some(20_000));
    }
}
