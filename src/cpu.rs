//! CPU-heavy work — parsing feeds, lists and pages, sanitizing, extracting articles — runs
//! here, off the async workers, so that one hostile 8 MiB page cannot starve the scheduler,
//! the other sources' polls or the systemd watchdog.
//!
//! A small bounded pool: tokio's blocking threads, at most as many at once as the machine
//! has cores (more would only contend for them, and every extra thread brings a malloc
//! arena that the daemon's RSS pays for).

use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

/// Slots for work running at once.
static SLOTS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    Arc::new(Semaphore::new(cores))
});

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
    /// The runtime is shutting down.
    #[error("shutting down while {what}")]
    Cancelled {
        /// What was being done.
        what: &'static str,
    },
}

/// Runs `work` on a blocking thread once a slot is free; `what` names it in errors
/// ("parsing a feed").
pub async fn run<T, F>(what: &'static str, work: F) -> Result<T, CpuError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let slot = Arc::clone(&SLOTS)
        .acquire_owned()
        .await
        .map_err(|_| CpuError::Cancelled { what })?;
    // The slot is given back by the blocking thread when the work ends, not when the caller
    // next polls: a caller busy elsewhere (awaiting other work in a stream) must not hold a
    // slot it no longer uses, or two such callers would starve everyone.
    let work = move || {
        let result = work();
        drop(slot);
        result
    };
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        if e.is_panic() {
            let payload = e.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            tracing::error!(what, message, "work panicked");
            CpuError::Panicked { what, message }
        } else {
            CpuError::Cancelled { what }
        }
    })
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
    }

    #[tokio::test]
    async fn a_finished_job_frees_its_slot_before_its_caller_looks() {
        // Finished jobs whose callers are not polled must not hold every slot.
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        let parked: Vec<_> = (0..cores).map(|i| Box::pin(run("parked", move || i))).collect();
        let mut parked = parked;
        for job in &mut parked {
            // Start each job (it takes its slot) but do not wait for it.
            let _ = futures_util::poll!(job.as_mut());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let done = tokio::time::timeout(std::time::Duration::from_secs(5), run("another", || 7)).await;
        assert_eq!(done.ok().and_then(Result::ok), Some(7));
    }
}
