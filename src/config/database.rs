//! `[daemon] database`: a SQLite file (the default, nothing to set up) or a PostgreSQL
//! database shared by several daemons.

use std::fmt;
use std::path::PathBuf;

/// Where the articles live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file; relative paths are resolved against the config file's folder.
    Sqlite(PathBuf),
    /// A PostgreSQL database, as a `postgres://` / `postgresql://` URL or a libpq
    /// `host=… dbname=…` string.
    Postgres(PostgresTarget),
}

/// A PostgreSQL connection string, kept whole for the driver and shown without its password.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    conninfo: String,
    shown: String,
}

impl PostgresTarget {
    /// Parses a URL or key-value connection string (the driver's own parser decides).
    pub fn parse(conninfo: &str) -> Result<PostgresTarget, String> {
        let config: tokio_postgres::Config = conninfo
            .parse()
            .map_err(|e| format!("not a PostgreSQL connection string: {e}"))?;
        if config.get_hosts().is_empty() {
            return Err("a PostgreSQL connection string must name a host".into());
        }
        Ok(PostgresTarget {
            conninfo: conninfo.to_owned(),
            shown: shown(&config),
        })
    }

    /// The whole string, password included, for the driver only.
    pub fn conninfo(&self) -> &str {
        &self.conninfo
    }
}

/// `postgres://user@host:port/dbname`, never the password.
fn shown(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => String::new(),
    };
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{host}{port}/{db}")
}

impl fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Display for PostgresTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Database {
    /// Reads a `database` value: a PostgreSQL URL (`postgres://`, `postgresql://`) or libpq
    /// key-value string (`host=… dbname=…`) selects PostgreSQL; anything else is a path.
    pub fn parse(value: &str, resolve: impl FnOnce(&str) -> PathBuf) -> Result<Database, String> {
        let v = value.trim();
        let lower = v.to_ascii_lowercase();
        let key_value = v
            .split_whitespace()
            .next()
            .and_then(|first| first.split_once('='))
            .is_some_and(|(key, _)| {
                matches!(
                    key.trim(),
                    "host" | "hostaddr" | "port" | "dbname" | "user" | "password" | "application_name"
                )
            });
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") || key_value {
            PostgresTarget::parse(v).map(Database::Postgres)
        } else {
            Ok(Database::Sqlite(resolve(v)))
        }
    }

    /// The SQLite file, when this is one.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            Database::Sqlite(p) => Some(p),
            Database::Postgres(_) => None,
        }
    }

    /// Whether several daemons may share this database (PostgreSQL, through host leases).
    pub fn is_shared(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "{}", p.display()),
            Database::Postgres(t) => write!(f, "{t}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Result<Database, String> {
        Database::parse(v, |p| PathBuf::from("/etc/fc").join(p))
    }

    #[test]
    fn paths_urls_and_key_value_strings() {
        assert_eq!(
            parse("feeds.db").unwrap(),
            Database::Sqlite("/etc/fc/feeds.db".into())
        );
        assert_eq!(
            parse("/var/lib/x.db").unwrap(),
            Database::Sqlite("/var/lib/x.db".into())
        );
        let url = parse("postgres://crawler:s3cret@db.internal:5433/news").unwrap();
        assert_eq!(url.to_string(), "postgres://crawler@db.internal:5433/news");
        assert!(!format!("{url:?}").contains("s3cret"));
        match &url {
            Database::Postgres(t) => assert!(t.conninfo().contains("s3cret")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse("postgresql://u@127.0.0.1/db").unwrap().to_string(),
            "postgres://u@127.0.0.1:5432/db"
        );
        assert_eq!(
            parse("host=10.0.0.5 dbname=news user=crawler password=x")
                .unwrap()
                .to_string(),
            "postgres://crawler@10.0.0.5/news"
        );
        assert!(parse("postgres://").is_err());
        // A file name with an `=` in it is still a file.
        assert!(matches!(parse("a=b.db").unwrap(), Database::Sqlite(_)));
    }
}
