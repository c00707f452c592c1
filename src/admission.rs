//! Admission: the one gate that decides whether a URL may be fetched (CONTRACT §7).
//!
//! A feed crawler fetches URLs that strangers choose: a redirect's `Location`, an item's
//! link, a share link found in an article, a canonical link. Every request the crawler
//! makes — feed, list, detail, article page, share link, `resolve` candidate, robots.txt
//! and each redirect hop — is put to [`Admission::check`] by the fetcher before anything is
//! read, and to [`GuardedResolver`] when its connection is made. No other module decides
//! whether a URL may be fetched; a refusal is a [`Refusal`] that the fetcher records as a
//! `fetches` row whose error starts with `refused:`.
//!
//! The rules:
//! - **Schemes**: `http` and `https`; `file:` only for a URL written in the config (a
//!   source's `url`/`urls`) and requested as such — never one learned from the network.
//! - **Networks**: a host the config names (sources' URLs, `[[host]] domain`, `[share]
//!   allow_hosts`, `resolve` templates) is trusted as written. Any other host is connected
//!   to only on public addresses: an IP literal is checked here, a name on the addresses it
//!   resolves to, at connect time (so a DNS answer cannot smuggle a private address in).
//!   `[http] allow_private_networks = true` lifts this.
//! - **Share links**: every hop of a share-link candidate must be on a host the share rules
//!   allow ([`ShareRules`]).
//!
//! robots.txt, rates and pauses are the politeness layer's ([`crate::politeness`]); the
//! fetcher applies them after this gate.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

use crate::config::{Config, host_matches};
use crate::pages::fill_template;

/// Where a URL to fetch came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written in the config (a source's `url` or `urls`): a `file:` URL may be read.
    Config,
    /// Learned from the network or given by a user at run time (a redirect, an item link,
    /// a share link, `add-link`, a stored `Location` of a 301).
    Network,
}

/// What a request is for: names it in refusals, and share links obey the share rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A source's feed or list.
    List,
    /// An article page (`full_text`, an HTML list item).
    Page,
    /// A JSON detail body.
    Detail,
    /// A share link's candidate (a `resolve` URL or the link itself).
    ShareLink,
    /// A host's robots.txt.
    Robots,
    /// A `[[notify]] webhook` delivery (a POST, never a crawl).
    Notify,
}

/// Why a URL may not be fetched. The fetcher prefixes it with `refused:` and the URL.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A scheme other than http(s), or a `file:` URL the config does not name.
    #[error(
        "scheme `{scheme}:` is not fetched (only http and https, and file: for URLs written in the config)"
    )]
    Scheme {
        /// The URL's scheme.
        scheme: String,
    },
    /// A `file:` URL that is not a source's configured URL (a redirect, an item link).
    #[error("a file: URL learned from the network is never read (only file: URLs written in the config are)")]
    FileFromNetwork,
    /// An http(s) URL without a host.
    #[error("the URL has no host")]
    NoHost,
    /// A host no config names, on a non-public address.
    #[error(
        "{host} is {address}, a {kind} address, and the config does not name that host \
         ([http] allow_private_networks = true allows it)"
    )]
    PrivateAddress {
        /// The host as written in the URL.
        host: String,
        /// The address it is (or resolved to).
        address: IpAddr,
        /// Which kind of non-public address: loopback, private, link-local …
        kind: &'static str,
    },
    /// A share link's candidate (or one of its redirect hops) on a host the share rules
    /// do not allow.
    #[error(
        "host {host} is not in [share] allow_hosts, a configured source's host or a resolve host; \
         share links are not requested from it"
    )]
    ShareHost {
        /// The host.
        host: String,
    },
    /// robots.txt forbids the URL (or could not be had, which forbids the whole host).
    #[error("{}", if *.unavailable {
        "the host's robots.txt could not be fetched (5xx, timeout or network error); nothing is requested from the host until it can"
    } else {
        "disallowed by the host's robots.txt"
    })]
    Robots {
        /// robots.txt answered 5xx or not at all, rather than disallowing this path.
        unavailable: bool,
    },
}

/// Which hosts a share link may be requested from: `[share] allow_hosts`, the hosts of the
/// configured sources and of the `resolve` templates (CONTRACT §6 *Share links*).
#[derive(Debug, Default)]
pub struct ShareRules {
    allowed: Vec<String>,
}

impl ShareRules {
    /// The rules of `config`.
    pub fn new(config: &Config) -> ShareRules {
        let mut allowed: Vec<String> = config.share.allow_hosts.clone();
        // A set beside the list: a config of 100,000 sources made `Vec::contains` quadratic.
        let mut seen: HashSet<String> = allowed.iter().cloned().collect();
        for host in source_hosts(config).chain(resolve_hosts(config)) {
            if seen.insert(host.clone()) {
                allowed.push(host);
            }
        }
        ShareRules { allowed }
    }

    /// Whether `url`'s host may be requested for a share link.
    pub fn host_allowed(&self, url: &Url) -> bool {
        url.host_str()
            .is_some_and(|host| self.allowed.iter().any(|domain| host_matches(domain, host)))
    }
}

/// The hosts of the configured sources' `url`s and `urls`, lowercase.
fn source_hosts(config: &Config) -> impl Iterator<Item = String> + '_ {
    config
        .sources
        .iter()
        .flat_map(|s| s.url.iter().chain(s.urls.iter()))
        .filter_map(host_key)
}

/// The hosts of the `[[notify]] webhook`s.
fn webhook_hosts(config: &Config) -> impl Iterator<Item = String> + '_ {
    config.notify.iter().filter_map(|n| match &n.target {
        crate::config::NotifyTarget::Webhook { url, .. } => host_key(url),
        crate::config::NotifyTarget::Exec(_) => None,
    })
}

/// The hosts of the `[share] resolve` templates.
fn resolve_hosts(config: &Config) -> impl Iterator<Item = String> + '_ {
    config
        .share
        .resolve
        .iter()
        .filter_map(|t| fill_template(t, Some("NW000000000000000000"), Some("http://x/")))
        .filter_map(|u| host_key(&u))
}

/// A URL's host as `[[host]] domain` writes it: lowercase, IPv6 without brackets.
fn host_key(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Domain(d) => Some(d.to_ascii_lowercase()),
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// The admission rules of one config.
#[derive(Debug)]
pub struct Admission {
    /// `file:` URLs written in the config.
    config_files: HashSet<String>,
    /// Hosts the config names, trusted as written (matched like `[[host]] domain`).
    trusted_hosts: Vec<String>,
    share: ShareRules,
    allow_private_networks: bool,
}

impl Admission {
    /// The rules of `config`.
    pub fn new(config: &Config) -> Admission {
        let config_files = config
            .sources
            .iter()
            .flat_map(|s| s.url.iter().chain(s.urls.iter()))
            .filter(|u| u.scheme() == "file")
            .map(ToString::to_string)
            .collect();
        let mut trusted_hosts: Vec<String> = Vec::new();
        let named = source_hosts(config)
            .chain(resolve_hosts(config))
            .chain(config.hosts.iter().map(|h| h.domain.clone()))
            .chain(config.share.allow_hosts.iter().cloned())
            // A webhook is written in the config like a source: a local relay is allowed.
            .chain(webhook_hosts(config));
        let mut seen = HashSet::new();
        for host in named {
            if seen.insert(host.clone()) {
                trusted_hosts.push(host);
            }
        }
        Admission {
            config_files,
            trusted_hosts,
            share: ShareRules::new(config),
            allow_private_networks: config.http.allow_private_networks,
        }
    }

    /// The share-link rules.
    pub fn share_rules(&self) -> &ShareRules {
        &self.share
    }

    /// Whether the config names `host` (or a domain it belongs to), so that it is trusted
    /// on whatever address it has.
    pub fn trusts_host(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.trusted_hosts.iter().any(|domain| host_matches(domain, host))
    }

    /// Whether `url` may be requested, `origin` saying where it came from (a redirect hop
    /// is always [`Origin::Network`]) and `purpose` what it is for. A host name's addresses
    /// are checked later, when they are resolved ([`GuardedResolver`]).
    pub fn check(&self, url: &Url, origin: Origin, purpose: Purpose) -> Result<(), Refusal> {
        match url.scheme() {
            "http" | "https" => {}
            "file" if origin == Origin::Config && self.config_files.contains(url.as_str()) => return Ok(()),
            "file" => return Err(Refusal::FileFromNetwork),
            other => {
                return Err(Refusal::Scheme {
                    scheme: other.to_owned(),
                });
            }
        }
        let host = url.host().ok_or(Refusal::NoHost)?;
        if purpose == Purpose::ShareLink && !self.share.host_allowed(url) {
            return Err(Refusal::ShareHost {
                host: host.to_string(),
            });
        }
        let address = match host {
            Host::Domain(_) => return Ok(()),
            Host::Ipv4(ip) => IpAddr::V4(ip),
            Host::Ipv6(ip) => IpAddr::V6(ip),
        };
        if self.allow_private_networks || self.trusts_host(&address.to_string()) {
            return Ok(());
        }
        match non_public(address) {
            Some(kind) => Err(Refusal::PrivateAddress {
                host: address.to_string(),
                address,
                kind,
            }),
            None => Ok(()),
        }
    }

    /// The addresses of `host` that may be connected to: all of them for a host the config
    /// names (or with `allow_private_networks`), else only the public ones; an error when
    /// that leaves none.
    pub fn filter_addresses(
        &self,
        host: &str,
        addresses: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refusal> {
        if self.allow_private_networks || self.trusts_host(host) {
            return Ok(addresses);
        }
        let first_private = addresses
            .iter()
            .find_map(|a| non_public(a.ip()).map(|kind| (a.ip(), kind)));
        let public: Vec<SocketAddr> = addresses
            .into_iter()
            .filter(|a| non_public(a.ip()).is_none())
            .collect();
        match (public.is_empty(), first_private) {
            (true, Some((address, kind))) => Err(Refusal::PrivateAddress {
                host: host.to_owned(),
                address,
                kind,
            }),
            _ => Ok(public),
        }
    }
}

/// What kind of non-public address `ip` is, or None for a public one (CONTRACT §7:
/// loopback, private, link-local, shared 100.64/10, unspecified, multicast, broadcast; also
/// the rest of 0/8 and the reserved 240/4, and IPv4 addresses inside IPv6 ones).
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() {
        Some("broadcast")
    } else if a >= 240 {
        Some("reserved")
    } else {
        None
    }
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that is reached.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = segments[6].to_be_bytes();
        let [c, d] = segments[7].to_be_bytes();
        return non_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    if segments[0] == 0x2002 {
        let [a, b] = segments[1].to_be_bytes();
        let [c, d] = segments[2].to_be_bytes();
        return non_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("private (unique local)")
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else {
        None
    }
}

/// The DNS resolver of the crawler's HTTP client: resolves with the system's resolver, then
/// keeps only the addresses [`Admission::filter_addresses`] allows, so the address that is
/// actually connected to is the one that was checked.
pub struct GuardedResolver {
    admission: Arc<Admission>,
}

impl GuardedResolver {
    /// A resolver enforcing `admission`.
    pub fn new(admission: Arc<Admission>) -> GuardedResolver {
        GuardedResolver { admission }
    }
}

/// The resolver's error when a host resolves only to addresses that may not be connected
/// to; the fetcher finds it in reqwest's error chain and records a `refused:` row.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ResolveRefused(pub Refusal);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let admission = Arc::clone(&self.admission);
        let host = name.as_str().to_ascii_lowercase();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed = admission.filter_addresses(&host, addresses).map_err(|refusal| {
                Box::new(ResolveRefused(refusal)) as Box<dyn std::error::Error + Send + Sync>
            })?;
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(toml: &str) -> Admission {
        let config =
            Config::parse(toml, std::path::Path::new("/etc/feedcrawler/t.toml")).expect("valid config");
        Admission::new(&config)
    }

    fn url(s: &str) -> Url {
        Url::parse(s).expect("literal URL")
    }

    #[test]
    fn addresses_are_classified_as_the_contract_lists_them() {
        let private = [
            "127.0.0.1",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ];
        for ip in private {
            let ip: IpAddr = ip.parse().expect("literal address");
            assert!(non_public(ip).is_some(), "{ip} is not public");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "101.226.103.106",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ];
        for ip in public {
            let ip: IpAddr = ip.parse().expect("literal address");
            assert_eq!(non_public(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn file_urls_only_as_written_in_the_config() {
        let a = admission(
            "[[source]]\nname = \"s\"\nurl = \"file:///srv/feeds/a.xml\"\n\
             [[source]]\nname = \"w\"\nurl = \"http://127.0.0.1:8080/feed.xml\"\n",
        );
        let configured = url("file:///srv/feeds/a.xml");
        assert_eq!(a.check(&configured, Origin::Config, Purpose::List), Ok(()));
        assert_eq!(
            a.check(&configured, Origin::Network, Purpose::List),
            Err(Refusal::FileFromNetwork)
        );
        assert_eq!(
            a.check(&url("file:///etc/passwd"), Origin::Config, Purpose::List),
            Err(Refusal::FileFromNetwork)
        );
        assert_eq!(
            a.check(&url("ftp://example.org/x"), Origin::Network, Purpose::Page),
            Err(Refusal::Scheme { scheme: "ftp".into() })
        );
        assert_eq!(
            a.check(&url("javascript:alert(1)"), Origin::Network, Purpose::Page),
            Err(Refusal::Scheme {
                scheme: "javascript".into()
            })
        );
    }

    #[test]
    fn private_addresses_only_for_hosts_the_config_names() {
        let a = admission(
            "[[source]]\nname = \"w\"\nurl = \"http://127.0.0.1:8080/feed.xml\"\n\
             [[host]]\ndomain = \"intranet.example\"\n",
        );
        assert_eq!(
            a.check(&url("http://127.0.0.1:9/x"), Origin::Network, Purpose::Page),
            Ok(())
        );
        assert!(matches!(
            a.check(&url("http://127.0.0.2/x"), Origin::Network, Purpose::Page),
            Err(Refusal::PrivateAddress { kind: "loopback", .. })
        ));
        assert!(matches!(
            a.check(
                &url("http://169.254.169.254/latest/meta-data/"),
                Origin::Network,
                Purpose::Page
            ),
            Err(Refusal::PrivateAddress {
                kind: "link-local",
                ..
            })
        ));
        assert!(matches!(
            a.check(&url("http://[::1]/x"), Origin::Network, Purpose::Page),
            Err(Refusal::PrivateAddress { kind: "loopback", .. })
        ));
        assert_eq!(
            a.check(&url("http://8.8.8.8/x"), Origin::Network, Purpose::Page),
            Ok(())
        );
        let ten: SocketAddr = "10.0.0.5:80".parse().expect("literal");
        let public: SocketAddr = "93.184.216.34:80".parse().expect("literal");
        assert!(a.filter_addresses("evil.example", vec![ten]).is_err());
        assert_eq!(
            a.filter_addresses("evil.example", vec![ten, public]),
            Ok(vec![public])
        );
        assert_eq!(a.filter_addresses("a.intranet.example", vec![ten]), Ok(vec![ten]));

        let open = admission(
            "[http]\nallow_private_networks = true\n[[source]]\nname = \"w\"\nurl = \"http://127.0.0.1:8080/feed.xml\"\n",
        );
        assert_eq!(
            open.check(&url("http://127.0.0.2/x"), Origin::Network, Purpose::Page),
            Ok(())
        );
        assert_eq!(open.filter_addresses("evil.example", vec![ten]), Ok(vec![ten]));
    }

    #[test]
    fn share_candidates_obey_the_share_rules() {
        let a = admission(
            "[share]\nallow_hosts = [\"zning.xyz\"]\nresolve = [\"https://finance.eastmoney.com/a/{id}.html\"]\n",
        );
        assert_eq!(
            a.check(
                &url("http://finews.zning.xyz/x?infoCode=NW202204192348095567"),
                Origin::Network,
                Purpose::ShareLink
            ),
            Ok(())
        );
        assert_eq!(
            a.check(
                &url("https://finance.eastmoney.com/a/202204192348095567.html"),
                Origin::Network,
                Purpose::ShareLink
            ),
            Ok(())
        );
        assert_eq!(
            a.check(&url("http://evil.example/x"), Origin::Network, Purpose::ShareLink),
            Err(Refusal::ShareHost {
                host: "evil.example".into()
            })
        );
        // The same host is fine for other purposes (its addresses are checked on connect).
        assert_eq!(
            a.check(&url("http://evil.example/x"), Origin::Network, Purpose::Page),
            Ok(())
        );
    }
}
