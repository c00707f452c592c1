//! WAL checkpoints on a thread of their own, so the writer seldom copies pages back into the
//! database file or waits for `fsync`.
//!
//! With SQLite's automatic checkpoint the committing connection does that work inside its
//! commit: on a cold 10,000-feed crawl `pwrite`, `pread` and `fsync` were about a fifth of
//! the writer thread, the one thread the crawl waits for. A second connection checkpoints
//! (PASSIVE: it never blocks the writer or readers) while the writer goes on.
//!
//! SQLite restarts the WAL from its beginning only when a write transaction begins after a
//! checkpoint has copied every frame, and a busy writer is always ahead of a checkpoint on
//! another connection: left alone the WAL grew to 3.6 GB in that crawl. So once the WAL
//! holds [`RESTART_FRAMES`], the writer runs one checkpoint itself between two transactions;
//! the thread has already copied all but the last few frames, so that one is short, and the
//! writer's next transaction starts the WAL again from the beginning.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// At most one checkpoint per this interval: each one costs two `fsync`s, and commits come
/// many times a second in a busy crawl.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// WAL size (in frames, 16 KiB pages here: 192 MB) at which the writer has the log restarted.
/// A cold 10,000-feed crawl's writer spent 4.6 s in `fsync` with 4,000 frames, 2.0 s with this.
const RESTART_FRAMES: i64 = 12_000;

/// The checkpoint thread's handle, owned by the writer.
pub(super) struct Checkpointer {
    nudge: SyncSender<()>,
    thread: JoinHandle<()>,
    /// Frames in the WAL at the thread's last checkpoint.
    wal_frames: Arc<AtomicI64>,
    /// When the writer last checkpointed itself.
    restart_tried: Option<Instant>,
    /// [`RESTART_FRAMES`], smaller in tests.
    restart_frames: i64,
    /// The database's path, for log lines.
    database: String,
}

impl Checkpointer {
    /// Opens a second connection to the database at `path` and starts the thread. `None` if
    /// either fails; the writer then keeps SQLite's automatic checkpoint.
    pub(super) fn start(path: &Path) -> Option<Checkpointer> {
        let conn = match super::open_connection(path, OpenFlags::SQLITE_OPEN_READ_WRITE) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the checkpoint connection; the writer checkpoints");
                return None;
            }
        };
        // One pending nudge is enough: a checkpoint takes every frame committed before it.
        let (nudge, nudged) = std::sync::mpsc::sync_channel(1);
        let database = path.display().to_string();
        let wal_frames = Arc::new(AtomicI64::new(0));
        let (frames, name) = (Arc::clone(&wal_frames), database.clone());
        match std::thread::Builder::new()
            .name("feedcrawler-checkpoint".into())
            .spawn(move || checkpoint_loop(&conn, &nudged, &name, &frames))
        {
            Ok(thread) => Some(Checkpointer {
                nudge,
                thread,
                wal_frames,
                restart_tried: None,
                restart_frames: RESTART_FRAMES,
                database,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the checkpoint thread; the writer checkpoints");
                None
            }
        }
    }

    /// Called by the writer between transactions, after a commit: wakes the thread, and once
    /// the WAL is large finishes a checkpoint on the writer's connection `conn` so that the
    /// next transaction restarts the log.
    pub(super) fn committed(&mut self, conn: &Connection) {
        match self.nudge.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {
                tracing::debug!("the checkpoint thread has stopped");
            }
        }
        // A reader holding an old snapshot keeps the log from restarting; retrying after
        // every commit would then cost two fsyncs each time.
        let retry_due = self
            .restart_tried
            .is_none_or(|at| at.elapsed() >= CHECKPOINT_INTERVAL);
        if self.wal_frames.load(Ordering::Relaxed) >= self.restart_frames && retry_due {
            self.restart_tried = Some(Instant::now());
            if let Some((frames, copied)) = checkpoint(conn, &self.database) {
                let left = if copied == frames { 0 } else { frames };
                self.wal_frames.store(left, Ordering::Relaxed);
            }
        }
    }

    /// Stops the thread after a last checkpoint of what was committed since its previous one
    /// (before the writer closes its connection, which then finds the WAL copied and removes
    /// it).
    pub(super) fn stop(self) {
        drop(self.nudge);
        if self.thread.join().is_err() {
            tracing::error!("the checkpoint thread panicked");
        }
    }
}

fn checkpoint_loop(conn: &Connection, nudged: &Receiver<()>, database: &str, wal_frames: &AtomicI64) {
    let mut last = Instant::now()
        .checked_sub(CHECKPOINT_INTERVAL)
        .unwrap_or_else(Instant::now);
    let mut pending = false;
    loop {
        let wait = if pending {
            CHECKPOINT_INTERVAL.saturating_sub(last.elapsed())
        } else {
            Duration::from_secs(3600)
        };
        match nudged.recv_timeout(wait) {
            Ok(()) => pending = true,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if pending && last.elapsed() >= CHECKPOINT_INTERVAL {
            if let Some((frames, _)) = checkpoint(conn, database) {
                wal_frames.store(frames, Ordering::Relaxed);
            }
            last = Instant::now();
            pending = false;
        }
    }
    if pending {
        checkpoint(conn, database);
    }
}

/// A PASSIVE checkpoint: `(frames in the WAL, frames copied)`, or `None` when it failed.
fn checkpoint(conn: &Connection, database: &str) -> Option<(i64, i64)> {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    match result {
        Ok((frames, copied)) => {
            tracing::trace!(database, frames, copied, "WAL checkpoint");
            Some((frames, copied))
        }
        Err(e) => {
            tracing::warn!(database, error = %e, "WAL checkpoint failed; retried after the next commit");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in `dir` with the writer's settings (WAL, no automatic checkpoint), its
    /// writer connection and a running checkpointer.
    fn writer_and_checkpointer(dir: &tempfile::TempDir) -> (std::path::PathBuf, Connection, Checkpointer) {
        let path = dir.path().join("notes.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        )
        .expect("schema");
        let checkpointer = Checkpointer::start(&path).expect("checkpointer");
        (path, conn, checkpointer)
    }

    fn wal_size(path: &Path) -> u64 {
        std::fs::metadata(path.with_extension("db-wal")).map_or(0, |m| m.len())
    }

    /// Commits `count` transactions of ~40 KB each, as the writer does, telling the
    /// checkpointer after each.
    fn write(conn: &Connection, checkpointer: &mut Checkpointer, count: usize) {
        let body = "沪深两市成交额突破万亿元".repeat(1_000);
        for _ in 0..count {
            conn.execute("INSERT INTO notes (body) VALUES (?1)", [&body])
                .expect("insert");
            checkpointer.committed(conn);
            // Leave the thread its turn, as the gaps between a crawl's commits do.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn the_wal_restarts_while_the_writer_keeps_committing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, conn, mut checkpointer) = writer_and_checkpointer(&dir);
        checkpointer.restart_frames = 100;
        write(&conn, &mut checkpointer, 400);
        // 400 × ~40 KB = ~16 MB committed; without restarts the WAL would hold all of it.
        let size = wal_size(&path);
        assert!(size > 0, "the WAL is in use");
        assert!(size < 8 * 1024 * 1024, "WAL bounded by restarts: {size} bytes");
        checkpointer.stop();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, 400);
    }

    #[test]
    fn the_thread_copies_the_wal_into_the_database() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, conn, mut checkpointer) = writer_and_checkpointer(&dir);
        write(&conn, &mut checkpointer, 20);
        // stop() runs the last checkpoint: every committed frame is in the database file.
        checkpointer.stop();
        let (frames, copied): (i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })
            .expect("checkpoint");
        assert_eq!(frames, copied, "nothing left to copy");
        assert!(
            std::fs::metadata(&path).expect("database").len() > 20 * 30_000,
            "rows are in the main file"
        );
    }

    #[test]
    fn a_wal_grown_behind_a_long_read_shrinks_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notes.db");
        let conn = super::super::open_connection(&path, OpenFlags::default()).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
        )
        .expect("schema");
        let mut checkpointer = Checkpointer::start(&path).expect("checkpointer");
        // A consumer's read transaction pins the WAL while ~80 MB are committed.
        let reader = super::super::open_connection(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("reader");
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM notes;")
            .expect("read");
        let body = "沪深两市成交额突破万亿元".repeat(2_000);
        for _ in 0..1_100 {
            conn.execute("INSERT INTO notes (body) VALUES (?1)", [&body])
                .expect("insert");
        }
        let grown = wal_size(&path);
        assert!(
            grown > super::super::WAL_SIZE_LIMIT as u64,
            "the WAL grew: {grown} bytes"
        );
        reader.execute_batch("COMMIT;").expect("end the read");
        // The next commits restart the log once the checkpoint has copied it.
        write(&conn, &mut checkpointer, 50);
        checkpointer.stop();
        conn.execute("INSERT INTO notes (body) VALUES ('x')", [])
            .expect("insert");
        let size = wal_size(&path);
        assert!(
            size <= super::super::WAL_SIZE_LIMIT as u64,
            "WAL cut back to the limit: {size} bytes (was {grown})"
        );
    }
}
