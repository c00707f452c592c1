//! Host leases: which hosts this daemon may send requests to.
//!
//! Several daemons on one PostgreSQL database divide the work by *host*, not by source:
//! each host is leased to one daemon at a time ([`crate::store::Store::lease_hosts`]), so a
//! host's rate limit, `Retry-After` pause and `Crawl-delay` are kept by the one process
//! that sends it requests, without a distributed limiter. A daemon renews its leases every
//! third of `[daemon] lease_period`; one that dies loses its hosts when they expire, and
//! the others take them at their next renewal. On SQLite (one daemon per file) and for
//! `once`, every host is allowed.
//!
//! The politeness gate asks [`HostLeases::allows`] before every request, so a host that
//! was given away is never asked again by this process, whatever polls were under way.

use std::collections::HashSet;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::store::LeaseGrant;

/// This daemon's leases, shared by the scheduler and the politeness gate.
#[derive(Debug)]
pub struct HostLeases {
    daemon: String,
    period: Duration,
    state: RwLock<LeaseState>,
}

#[derive(Debug)]
struct LeaseState {
    /// `None`: every host (SQLite, `once`). `Some`: only these.
    held: Option<HashSet<String>>,
    /// When the leases were last renewed; they are trusted until a safety margin before
    /// they expire in the database.
    renewed_at: Option<Instant>,
    /// Daemons alive at the last renewal.
    daemons: usize,
}

/// What a renewal changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseChange {
    /// Hosts this daemon did not hold before.
    pub acquired: Vec<String>,
    /// Hosts it no longer holds.
    pub released: Vec<String>,
}

impl LeaseChange {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.acquired.is_empty() && self.released.is_empty()
    }
}

impl HostLeases {
    /// Every host allowed, for ever (SQLite's one daemon, `once`).
    pub fn unrestricted() -> HostLeases {
        HostLeases {
            daemon: daemon_id(),
            period: Duration::MAX,
            state: RwLock::new(LeaseState {
                held: None,
                renewed_at: None,
                daemons: 1,
            }),
        }
    }

    /// A daemon that holds nothing until its first renewal.
    pub fn for_daemon(period: Duration) -> HostLeases {
        HostLeases {
            daemon: daemon_id(),
            period,
            state: RwLock::new(LeaseState {
                held: Some(HashSet::new()),
                renewed_at: None,
                daemons: 1,
            }),
        }
    }

    /// This daemon's id in the cluster.
    pub fn daemon(&self) -> &str {
        &self.daemon
    }

    /// The lease period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// How often the leases are renewed: a third of the period, so that one late renewal
    /// still finds them valid.
    pub fn renew_every(&self) -> Duration {
        self.period / 3
    }

    /// Whether a request to `host` may go now.
    pub fn allows(&self, host: &str) -> bool {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        match &state.held {
            None => true,
            Some(held) => {
                // Leases not renewed for most of a period may already be someone else's:
                // stop before the database lets them expire.
                let trusted = state
                    .renewed_at
                    .is_some_and(|at| at.elapsed() < self.period.saturating_sub(self.period / 6));
                trusted && held.contains(&host.to_ascii_lowercase())
            }
        }
    }

    /// Whether every host is allowed (no cluster).
    pub fn is_unrestricted(&self) -> bool {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .held
            .is_none()
    }

    /// Hosts held, and daemons alive, at the last renewal (`None`: every host).
    pub fn held(&self) -> (Option<usize>, usize) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        (state.held.as_ref().map(HashSet::len), state.daemons)
    }

    /// Takes the database's answer to a renewal and says what changed.
    pub fn apply(&self, grant: LeaseGrant) -> LeaseChange {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let change = match (&state.held, &grant.held) {
            (Some(before), Some(now)) => {
                let mut acquired: Vec<String> = now.difference(before).cloned().collect();
                let mut released: Vec<String> = before.difference(now).cloned().collect();
                acquired.sort();
                released.sort();
                LeaseChange { acquired, released }
            }
            _ => LeaseChange::default(),
        };
        if grant.held.is_some() || state.held.is_none() {
            state.held = grant.held;
        }
        state.daemons = grant.daemons;
        state.renewed_at = Some(Instant::now());
        change
    }
}

/// A daemon id unique in the cluster: the machine, the process and a random part (a PID
/// is reused after a restart; the random part tells the two apart).
pub fn daemon_id() -> String {
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let random: u32 = fastrand::u32(..);
    format!("{machine}:{}:{random:08x}", std::process::id())
}

/// The hosts (lower-case, no port) of the config's enabled sources: what this daemon
/// asks to lease.
pub fn source_hosts(config: &Config) -> Vec<String> {
    let mut hosts: Vec<String> = config
        .sources
        .iter()
        .filter(|s| s.enabled)
        .flat_map(|s| s.url.iter().chain(s.urls.iter()))
        .filter_map(|u| u.host_str().map(str::to_ascii_lowercase))
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(hosts: &[&str], daemons: usize) -> LeaseGrant {
        LeaseGrant {
            held: Some(hosts.iter().map(|h| h.to_string()).collect()),
            daemons,
        }
    }

    #[test]
    fn a_daemon_polls_only_what_it_holds_and_hears_what_changed() {
        let leases = HostLeases::for_daemon(Duration::from_secs(30));
        assert!(!leases.allows("a.example"), "nothing before the first renewal");
        let change = leases.apply(grant(&["a.example", "b.example"], 1));
        assert_eq!(change.acquired, vec!["a.example", "b.example"]);
        assert!(leases.allows("a.example") && leases.allows("B.example"));
        assert!(!leases.allows("c.example"));
        let change = leases.apply(grant(&["b.example", "c.example"], 2));
        assert_eq!(change.acquired, vec!["c.example"]);
        assert_eq!(change.released, vec!["a.example"]);
        assert!(!leases.allows("a.example"));
        assert_eq!(leases.held(), (Some(2), 2));
    }

    #[test]
    fn leases_not_renewed_in_time_are_not_trusted() {
        let leases = HostLeases::for_daemon(Duration::from_millis(60));
        leases.apply(grant(&["a.example"], 1));
        assert!(leases.allows("a.example"));
        std::thread::sleep(Duration::from_millis(55));
        assert!(!leases.allows("a.example"), "past 5/6 of the period");
    }

    #[test]
    fn unrestricted_allows_everything_and_ignores_grants() {
        let leases = HostLeases::unrestricted();
        assert!(leases.allows("any.example"));
        let change = leases.apply(LeaseGrant {
            held: None,
            daemons: 1,
        });
        assert!(change.is_empty());
        assert!(leases.allows("any.example"));
    }
}
