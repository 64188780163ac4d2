//! Settings: each read from a flag, else a `PIPELOG_*` environment variable, else the TOML
//! file named by `--config`, else its default. `docs/configuration.md` lists them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use pipelog_core::api_key::RateLimit;
use pipelog_server::ServerConfig;
use pipelog_store::Store;
use pipelog_store::postgres::{PostgresOptions, PostgresStore};
use pipelog_store::sqlite::{Durability, SqliteOptions, SqliteStore};
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./pipelog-data";

/// How hard commits press data to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityChoice {
    /// fsync at every group commit: acknowledged writes survive a machine crash.
    Full,
    /// Acknowledged writes survive a process crash; a power loss may lose the last ones.
    Normal,
}

/// How the server's own logs are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where the store lives; shared by every command that opens one.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// TOML file to read settings from; flags and environment variables override it.
    #[arg(long, env = "PIPELOG_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding the embedded store, the secrets and export files
    /// [default: ./pipelog-data]. With --database, nodes share it (see docs/storage.md).
    #[arg(long, env = "PIPELOG_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database to keep the data in instead of the embedded store, as
    /// `postgres://user:password@host:port/database` [default: the embedded store].
    #[arg(long, env = "PIPELOG_DATABASE_URL", value_name = "URL")]
    pub database: Option<String>,
    /// `full` (default) or `normal`; see docs/storage.md.
    #[arg(long, env = "PIPELOG_DURABILITY", value_enum)]
    pub durability: Option<DurabilityChoice>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "PIPELOG_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Requests per minute for keys that set no limit of their own; 0 for none [default: 50].
    #[arg(long, env = "PIPELOG_DEFAULT_RATE_LIMIT", value_name = "N")]
    pub default_rate_limit: Option<u32>,
    /// Largest request body accepted, in bytes [default: 10485760].
    #[arg(long, env = "PIPELOG_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Request bodies held in memory at once, in bytes; past it, writes get 503
    /// [default: 268435456].
    #[arg(long, env = "PIPELOG_MAX_INFLIGHT_BYTES", value_name = "BYTES")]
    pub max_inflight_bytes: Option<usize>,
    /// Seconds shutdown waits for in-flight requests [default: 30].
    #[arg(long, env = "PIPELOG_SHUTDOWN_GRACE", value_name = "SECONDS")]
    pub shutdown_grace: Option<u64>,
    /// What the server logs to stderr, as `level` or `level,target=level` [default: info].
    #[arg(long, env = "PIPELOG_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// `text` (default) or `json`: one JSON object per line, for log collectors.
    #[arg(long, env = "PIPELOG_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// The address clients reach this server at, for the download links it hands out
    /// (`https://logs.example.com`) [default: http:// and the request's Host].
    #[arg(long, env = "PIPELOG_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Days of execution logs an account keeps unless it sets its own [default: forever].
    #[arg(long, env = "PIPELOG_LOG_RETENTION_DAYS", value_name = "DAYS")]
    pub log_retention_days: Option<u32>,
    /// PEM certificate chain to serve HTTPS with, the server's own first; needs --tls-key.
    #[arg(long, env = "PIPELOG_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, RSA or SEC1) of the certificate; needs --tls-cert.
    #[arg(long, env = "PIPELOG_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

/// The config file: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database: Option<String>,
    durability: Option<DurabilityChoice>,
    default_rate_limit: Option<u32>,
    max_body_bytes: Option<usize>,
    max_inflight_bytes: Option<usize>,
    shutdown_grace: Option<u64>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    public_url: Option<String>,
    log_retention_days: Option<u32>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileSettings> {
    let Some(path) = path else {
        return Ok(FileSettings::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

/// Where and how to open the store.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The embedded store's file, the secrets and the export files.
    pub data_dir: PathBuf,
    pub backend: StoreBackend,
}

/// Which backend keeps the data.
#[derive(Clone)]
pub enum StoreBackend {
    Sqlite(SqliteOptions),
    Postgres {
        url: String,
        options: PostgresOptions,
    },
}

/// Never shows the database URL: it may hold a password.
impl std::fmt::Debug for StoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreBackend::Sqlite(options) => f.debug_tuple("Sqlite").field(options).finish(),
            StoreBackend::Postgres { options, .. } => f
                .debug_struct("Postgres")
                .field("options", options)
                .finish_non_exhaustive(),
        }
    }
}

impl StoreSettings {
    /// Opens the store (bringing its schema up to date). Call it on the runtime that will
    /// use the store.
    pub async fn open(&self) -> anyhow::Result<std::sync::Arc<dyn Store>> {
        Ok(match &self.backend {
            StoreBackend::Sqlite(options) => std::sync::Arc::new(
                SqliteStore::open(&self.data_dir, options.clone()).with_context(|| {
                    format!("cannot open the store in {}", self.data_dir.display())
                })?,
            ),
            StoreBackend::Postgres { url, options } => std::sync::Arc::new(
                PostgresStore::open(url, options.clone())
                    .await
                    .with_context(|| format!("cannot open the store in {}", self.describe()))?,
            ),
        })
    }

    /// Where the store is, for logs and errors (a database's password left out).
    pub fn describe(&self) -> String {
        match &self.backend {
            StoreBackend::Sqlite(_) => self
                .data_dir
                .join(pipelog_store::sqlite::DATABASE_FILE)
                .display()
                .to_string(),
            StoreBackend::Postgres { url, .. } => describe_database(url),
        }
    }
}

/// `postgres://host:port/database`, without user or password.
fn describe_database(url: &str) -> String {
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return "PostgreSQL (an unreadable URL)".to_owned();
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(host, port)| match host {
            tokio_postgres::config::Host::Tcp(name) => format!("{name}:{port}"),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "postgres://{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

/// The files to serve HTTPS with: both given, or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub key: PathBuf,
}

/// Everything `serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub store: StoreSettings,
    pub listen: SocketAddr,
    pub server: ServerConfig,
    /// `None`: plain HTTP. `serve` reads the files into `server.tls`.
    pub tls: Option<TlsFiles>,
    pub log: String,
    pub log_format: LogFormat,
}

fn store_settings(args: &StoreArgs, file: &FileSettings) -> anyhow::Result<StoreSettings> {
    let durability = args.durability.or(file.durability);
    let database = args.database.clone().or_else(|| file.database.clone());
    let backend = match database {
        Some(url) => {
            anyhow::ensure!(
                durability.is_none(),
                "--durability is for the embedded store; with --database, PostgreSQL's own \
                 settings (synchronous_commit) decide how commits reach its disk"
            );
            url.parse::<tokio_postgres::Config>().map_err(|error| {
                anyhow::anyhow!(
                    "--database (PIPELOG_DATABASE_URL, `database`) is not a PostgreSQL URL \
                     such as postgres://user:password@host:5432/pipelog: {error}"
                )
            })?;
            StoreBackend::Postgres {
                url,
                options: PostgresOptions::default(),
            }
        }
        None => StoreBackend::Sqlite(SqliteOptions {
            durability: match durability {
                Some(DurabilityChoice::Normal) => Durability::Normal,
                Some(DurabilityChoice::Full) | None => Durability::Full,
            },
            ..SqliteOptions::default()
        }),
    };
    Ok(StoreSettings {
        data_dir: args
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        backend,
    })
}

impl StoreArgs {
    pub fn resolve(&self) -> anyhow::Result<StoreSettings> {
        let file = read_file(self.config.as_deref())?;
        store_settings(self, &file)
    }
}

impl ServeArgs {
    pub fn resolve(&self) -> anyhow::Result<ServeSettings> {
        let file = read_file(self.store.config.as_deref())?;
        let defaults = ServerConfig::default();
        let server = ServerConfig {
            default_rate_limit: self
                .default_rate_limit
                .or(file.default_rate_limit)
                .map_or(defaults.default_rate_limit, |n| {
                    RateLimit::from_option(Some(n))
                }),
            max_body_bytes: self
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(defaults.max_body_bytes),
            max_inflight_bytes: self
                .max_inflight_bytes
                .or(file.max_inflight_bytes)
                .unwrap_or(defaults.max_inflight_bytes),
            shutdown_grace: self
                .shutdown_grace
                .or(file.shutdown_grace)
                .map_or(defaults.shutdown_grace, Duration::from_secs),
            public_url: self.public_url.clone().or(file.public_url.clone()),
            default_log_retention_days: self.log_retention_days.or(file.log_retention_days),
            ..defaults
        };
        anyhow::ensure!(
            server.max_inflight_bytes >= server.max_body_bytes,
            "--max-inflight-bytes ({}) must be at least --max-body-bytes ({}), or the largest body could never be taken",
            server.max_inflight_bytes,
            server.max_body_bytes
        );
        if let Some(days) = server.default_log_retention_days {
            anyhow::ensure!(
                days >= 1,
                "--log-retention-days must be at least 1 (leave it out to keep logs forever)"
            );
        }
        let tls = match (
            self.tls_cert.clone().or(file.tls_cert.clone()),
            self.tls_key.clone().or(file.tls_key.clone()),
        ) {
            (Some(certificate), Some(key)) => Some(TlsFiles { certificate, key }),
            (None, None) => None,
            (Some(_), None) => anyhow::bail!(
                "--tls-cert is given without --tls-key (PIPELOG_TLS_KEY, `tls_key`): \
                 HTTPS needs both, plain HTTP neither"
            ),
            (None, Some(_)) => anyhow::bail!(
                "--tls-key is given without --tls-cert (PIPELOG_TLS_CERT, `tls_cert`): \
                 HTTPS needs both, plain HTTP neither"
            ),
        };
        Ok(ServeSettings {
            store: store_settings(&self.store, &file)?,
            tls,
            listen: match self.listen.or(file.listen) {
                Some(listen) => listen,
                None => DEFAULT_LISTEN
                    .parse()
                    .context("the default listen address")?,
            },
            server,
            log: self
                .log
                .clone()
                .or(file.log.clone())
                .unwrap_or_else(|| "info".to_owned()),
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> ServeArgs {
        Probe::try_parse_from(std::iter::once("probe").chain(args.iter().copied()))
            .unwrap()
            .serve
    }

    fn durability(store: &StoreSettings) -> Durability {
        match &store.backend {
            StoreBackend::Sqlite(options) => options.durability,
            StoreBackend::Postgres { .. } => panic!("the embedded store was expected"),
        }
    }

    #[test]
    fn a_database_url_chooses_postgresql_and_is_never_shown() {
        let url = "postgres://pipelog:s3cret@db.example.com:5433/logs";
        let settings = parse(&["--database", url]).resolve().unwrap();
        assert!(matches!(
            &settings.store.backend,
            StoreBackend::Postgres { url: chosen, .. } if chosen == url
        ));
        assert_eq!(
            settings.store.describe(),
            "postgres://db.example.com:5433/logs"
        );
        assert!(!format!("{settings:?}").contains("s3cret"));

        let error = parse(&["--database", "mysql://x"]).resolve().unwrap_err();
        assert!(error.to_string().contains("--database"), "{error}");
        let error = parse(&["--database", url, "--durability", "normal"])
            .resolve()
            .unwrap_err();
        assert!(error.to_string().contains("synchronous_commit"), "{error}");
    }

    #[test]
    fn defaults() {
        let settings = parse(&[]).resolve().unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.store.data_dir, PathBuf::from("./pipelog-data"));
        assert_eq!(durability(&settings.store), Durability::Full);
        assert_eq!(settings.server.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(settings.log, "info");
        assert_eq!(settings.log_format, LogFormat::Text);
    }

    /// Every flag, variable and file key of `serve` has its row in docs/configuration.md,
    /// and every row there names a setting that exists.
    #[test]
    fn the_configuration_doc_lists_every_setting() {
        use clap::CommandFactory;
        let doc = include_str!("../../../docs/configuration.md");
        // The server's settings are the table of the section "Settings".
        let section = doc
            .split("\n## ")
            .find(|section| section.starts_with("Settings\n"))
            .expect("docs/configuration.md has a section `## Settings`");
        let rows: Vec<&str> = section
            .lines()
            .filter(|line| line.starts_with("| `--"))
            .collect();
        let command = Probe::command();
        let mut flags = Vec::new();
        for arg in command.get_arguments() {
            let Some(flag) = arg.get_long() else { continue };
            if flag == "help" {
                continue;
            }
            let env = arg
                .get_env()
                .and_then(|env| env.to_str())
                .unwrap_or_else(|| panic!("--{flag} has no environment variable"));
            let key = flag.replace('-', "_");
            // The file names the other settings; it has no key of its own.
            let file_key = if flag == "config" {
                "| |".to_owned()
            } else {
                format!("| `{key}` |")
            };
            let row = rows
                .iter()
                .find(|row| {
                    let rest = row.strip_prefix(&format!("| `--{flag}")).unwrap_or("-");
                    rest.starts_with(' ') || rest.starts_with('`')
                })
                .unwrap_or_else(|| panic!("docs/configuration.md has no row for --{flag}"));
            assert!(
                row.contains(&format!("`{env}`")),
                "the row of --{flag} names {env}"
            );
            assert!(
                row.contains(&file_key),
                "the row of --{flag} names the file key {file_key}"
            );
            if flag != "config" {
                let probe = format!("{key} = 1\n");
                let refused = toml::from_str::<FileSettings>(&probe)
                    .err()
                    .is_some_and(|error| error.to_string().contains("unknown field"));
                assert!(!refused, "the file knows no key {key}");
            }
            flags.push(flag.to_owned());
        }
        assert_eq!(rows.len(), flags.len(), "a row in the doc names no setting");
    }

    #[test]
    fn flags_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pipelog.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/logs\"\ndurability = \"normal\"\nmax_body_bytes = 1024\n",
        )
        .unwrap();
        let config = file.to_str().unwrap();
        let from_file = parse(&["--config", config]).resolve().unwrap();
        assert_eq!(from_file.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(from_file.store.data_dir, PathBuf::from("/srv/logs"));
        assert_eq!(durability(&from_file.store), Durability::Normal);
        assert_eq!(from_file.server.max_body_bytes, 1024);

        let flagged = parse(&[
            "--config",
            config,
            "--listen",
            "127.0.0.1:1",
            "--durability",
            "full",
        ])
        .resolve()
        .unwrap();
        assert_eq!(flagged.listen.to_string(), "127.0.0.1:1");
        assert_eq!(durability(&flagged.store), Durability::Full);
        assert_eq!(flagged.store.data_dir, PathBuf::from("/srv/logs"));
    }

    #[test]
    fn tls_takes_both_files_or_neither() {
        assert_eq!(parse(&[]).resolve().unwrap().tls, None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pipelog.toml");
        std::fs::write(
            &file,
            "tls_cert = \"/etc/tls/chain.pem\"\ntls_key = \"/etc/tls/key.pem\"\n",
        )
        .unwrap();
        let config = file.to_str().unwrap();
        let from_file = parse(&["--config", config]).resolve().unwrap();
        assert_eq!(
            from_file.tls,
            Some(TlsFiles {
                certificate: PathBuf::from("/etc/tls/chain.pem"),
                key: PathBuf::from("/etc/tls/key.pem"),
            })
        );
        let flagged = parse(&["--config", config, "--tls-key", "other.pem"])
            .resolve()
            .unwrap();
        assert_eq!(flagged.tls.unwrap().key, PathBuf::from("other.pem"));

        let error = parse(&["--tls-cert", "chain.pem"]).resolve().unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("--tls-cert is given without --tls-key"),
            "{text}"
        );
        let error = parse(&["--tls-key", "key.pem"]).resolve().unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("--tls-key is given without --tls-cert"),
            "{text}"
        );
    }

    #[test]
    fn unknown_file_keys_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pipelog.toml");
        std::fs::write(&file, "listen_addr = \"0.0.0.0:9000\"\n").unwrap();
        let error = parse(&["--config", file.to_str().unwrap()])
            .resolve()
            .unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("unknown field `listen_addr`"), "{text}");
    }
}
