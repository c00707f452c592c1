//! The daemon's life as a service: Unix signals in, systemd notifications out.
//!
//! SIGTERM and SIGINT become [`Control::Shutdown`], SIGHUP [`Control::Reload`]; systemd hears
//! `READY=1` once the database and config are ready, `WATCHDOG=1` from the scheduler loop
//! itself (so a stuck loop gets the service restarted), `STATUS=` lines for
//! `systemctl status`, and `RELOADING=1`/`STOPPING=1`. Outside systemd (no
//! `NOTIFY_SOCKET`) every notification is a no-op. Only this module knows systemd.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// What the operator asked the daemon to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// SIGHUP: re-read the config.
    Reload,
    /// SIGTERM or SIGINT: stop gracefully.
    Shutdown,
}

/// Starts forwarding signals as [`Control`] messages. The channel is small: a burst of
/// SIGHUPs collapses into the reloads still queued.
pub fn signals() -> std::io::Result<mpsc::Receiver<Control>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let (sender, receiver) = mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let control = tokio::select! {
                Some(()) = term.recv() => Control::Shutdown,
                Some(()) = int.recv() => Control::Shutdown,
                Some(()) = hup.recv() => Control::Reload,
                else => break,
            };
            tracing::info!(?control, "signal received");
            match sender.try_send(control) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) if control == Control::Reload => {}
                Err(mpsc::error::TrySendError::Full(control)) => {
                    // A shutdown must not be lost behind queued reloads.
                    if sender.send(control).await.is_err() {
                        break;
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
        }
    });
    Ok(receiver)
}

fn notify(state: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// Tells systemd the daemon is ready (database open, config valid, sources scheduled).
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Pets the watchdog; call from the scheduler loop.
pub fn watchdog() {
    notify(&[NotifyState::Watchdog]);
}

/// Sets the one-line status `systemctl status` shows.
pub fn status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

/// Announces a config reload (and, with `done`, its end).
pub fn reloading(done: bool) {
    if done {
        notify(&[NotifyState::Ready]);
    } else {
        let now = sd_notify::NotifyState::monotonic_usec_now();
        match now {
            Ok(now) => notify(&[NotifyState::Reloading, now]),
            Err(_) => notify(&[NotifyState::Reloading]),
        }
    }
}

/// Announces a graceful stop.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// How often to pet the watchdog: half its timeout, or `None` outside systemd's watchdog.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}
