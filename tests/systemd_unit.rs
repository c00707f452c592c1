//! The shipped unit `systemd/feedcrawler.service`: the settings the daemon relies on
//! (Type=notify, the watchdog, reload, the state directory), `systemd-analyze verify`
//! clean, and `systemd-analyze security --offline=true` rating it 2.0 or lower.
//!
//! Without `systemd-analyze` the checks that need it are skipped with a note, except
//! under CI (`CI` set), where `.ci/run` installs it and its absence is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The highest acceptable "Overall exposure level" (0.0 safest … 10.0 unsafe).
const MAX_EXPOSURE: f64 = 2.0;

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/feedcrawler.service")
}

fn unit_text() -> String {
    std::fs::read_to_string(unit_path()).expect("read systemd/feedcrawler.service")
}

/// The `Key=value` settings of the unit, comments and section headers left out.
fn settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn values<'a>(settings: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    settings
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn analyze(args: &[&str]) -> Option<Output> {
    let result = Command::new("systemd-analyze")
        .args(args)
        .env("SYSTEMD_PAGER", "cat")
        .env("SYSTEMD_COLORS", "0")
        .env("LC_ALL", "C.UTF-8")
        .output();
    match result {
        Ok(output) => Some(output),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => panic!("cannot run systemd-analyze: {err}"),
    }
}

/// `systemd-analyze` is installed; or, outside CI, `false` after a note.
fn have_systemd_analyze() -> bool {
    if analyze(&["--version"]).is_some() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "systemd-analyze is not installed, but CI is set: .ci/run should have installed it \
             (apt-get install --no-install-recommends systemd)"
        );
    }
    eprintln!(
        "note: systemd-analyze not found; skipping the unit's verify/security checks \
         (apt-get install systemd to run them)"
    );
    false
}

fn combined(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn unit_has_the_settings_the_daemon_relies_on() {
    let text = unit_text();
    let s = settings(&text);
    let one = |key: &str| -> String {
        let v = values(&s, key);
        assert_eq!(v.len(), 1, "{key}= must be set exactly once, found {v:?}");
        v[0].to_owned()
    };
    assert_eq!(one("Type"), "notify");
    assert_eq!(one("NotifyAccess"), "main");
    assert_eq!(
        one("ExecStart"),
        "/usr/local/bin/feedcrawler --config /etc/feedcrawler/feedcrawler.toml run"
    );
    assert_eq!(one("ExecReload"), "/bin/kill -HUP $MAINPID");
    let watchdog = one("WatchdogSec");
    assert!(
        watchdog.trim_end_matches('s').parse::<u32>().is_ok_and(|n| n > 0),
        "WatchdogSec must be a positive number of seconds: {watchdog}"
    );
    assert_eq!(one("StateDirectory"), "feedcrawler");
    assert_eq!(one("ConfigurationDirectory"), "feedcrawler");
    assert_eq!(one("Restart"), "on-failure");
    assert_eq!(one("KillSignal"), "SIGTERM");
    // sd_notify needs AF_UNIX; crawling needs AF_INET and AF_INET6.
    let families = one("RestrictAddressFamilies");
    for family in ["AF_UNIX", "AF_INET", "AF_INET6"] {
        assert!(
            families.split_whitespace().any(|f| f == family),
            "RestrictAddressFamilies lacks {family}: {families}"
        );
    }
    // The crawler must keep the Internet.
    assert!(
        values(&s, "PrivateNetwork")
            .iter()
            .all(|v| *v != "yes" && *v != "true"),
        "PrivateNetwork= would cut the crawler off the network"
    );
    for deny in values(&s, "IPAddressDeny") {
        assert!(
            !deny.split_whitespace().any(|a| a == "any" || a.ends_with("/0")),
            "IPAddressDeny={deny} would cut the crawler off the network"
        );
    }
}

/// `systemd-analyze security --offline=true` on the shipped file: exposure ≤ 2.0.
#[test]
fn unit_security_exposure_is_at_most_2() {
    if !have_systemd_analyze() {
        return;
    }
    let unit = unit_path();
    let unit = unit.to_str().expect("UTF-8 path");
    // --threshold is on the 0–100 scale: 20 = 2.0; the exit status then reflects it too.
    let output = analyze(&["--no-pager", "security", "--offline=true", "--threshold=20", unit])
        .expect("systemd-analyze ran a moment ago");
    let text = combined(&output);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no \"Overall exposure level\" in the output:\n{text}"));
    let exposure: f64 = line
        .rsplit_once(": ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the exposure number from {line:?}"));
    eprintln!("{}", line.trim());
    assert!(
        exposure <= MAX_EXPOSURE,
        "exposure {exposure} > {MAX_EXPOSURE}; the settings that cost it:\n{}",
        text.lines()
            .filter(|l| l.starts_with('✗'))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        output.status.success(),
        "systemd-analyze security failed ({}):\n{text}",
        output.status
    );
}

/// `systemd-analyze verify` on a copy whose ExecStart names the binary just built (the
/// installed path /usr/local/bin/feedcrawler need not exist here): no complaint.
#[test]
fn unit_verifies_cleanly() {
    if !have_systemd_analyze() {
        return;
    }
    let binary = env!("CARGO_BIN_EXE_feedcrawler");
    assert!(
        !binary.contains(char::is_whitespace),
        "binary path with whitespace: {binary}"
    );
    let rewritten: String = unit_text()
        .lines()
        .map(|line| match line.strip_prefix("ExecStart=") {
            Some(command) => {
                let args = command.split_once(' ').map_or("", |(_, args)| args);
                format!("ExecStart={binary} {args}\n")
            }
            None => format!("{line}\n"),
        })
        .collect();
    assert!(rewritten.contains(&format!("ExecStart={binary} --config ")));
    verify_as("feedcrawler.service", &rewritten);
}

/// `systemd-analyze verify` on `text` saved as a unit named `name`: no complaint about it.
fn verify_as(name: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(name);
    std::fs::write(&copy, text).unwrap();

    let output = analyze(&["--no-pager", "verify", copy.to_str().expect("UTF-8 path")])
        .expect("systemd-analyze ran a moment ago");
    let text = combined(&output);
    // Complaints about this unit name its file or unit; anything else (another unit on
    // this host) is shown but not held against this one.
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(name) || l.contains(copy.to_str().unwrap()))
        .collect();
    assert!(
        ours.is_empty(),
        "systemd-analyze verify complains:\n{}",
        ours.join("\n")
    );
    assert!(
        output.status.success(),
        "systemd-analyze verify failed ({}):\n{text}",
        output.status
    );
    if !text.trim().is_empty() {
        eprintln!("systemd-analyze verify (other units):\n{text}");
    }
}

/// `systemd/feedcrawler@.service`, the template for several daemons on one PostgreSQL
/// database: the same settings as the single unit except its description and the config
/// it reads (`/etc/feedcrawler/%i.toml`), and an instance verifies cleanly.
#[test]
fn template_unit_is_the_unit_with_one_config_per_instance() {
    let template_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/feedcrawler@.service");
    let template = std::fs::read_to_string(&template_path).expect("read systemd/feedcrawler@.service");
    let differing: Vec<(String, String)> = {
        let single = settings(&unit_text());
        let instance = settings(&template);
        assert_eq!(single.len(), instance.len(), "the same number of settings");
        single
            .into_iter()
            .zip(instance)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| (format!("{}={}", a.0, a.1), format!("{}={}", b.0, b.1)))
            .collect()
    };
    assert_eq!(
        differing,
        vec![
            (
                "Description=feedcrawler news feed crawler".to_owned(),
                "Description=feedcrawler news feed crawler (%i, sharing a PostgreSQL database)".to_owned()
            ),
            (
                "ExecStart=/usr/local/bin/feedcrawler --config /etc/feedcrawler/feedcrawler.toml run"
                    .to_owned(),
                "ExecStart=/usr/local/bin/feedcrawler --config /etc/feedcrawler/%i.toml run".to_owned()
            ),
        ]
    );
    if !have_systemd_analyze() {
        return;
    }
    let binary = env!("CARGO_BIN_EXE_feedcrawler");
    let rewritten = template.replace(
        "ExecStart=/usr/local/bin/feedcrawler ",
        &format!("ExecStart={binary} "),
    );
    verify_as("feedcrawler@a.service", &rewritten);
}
