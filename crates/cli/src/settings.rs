//! Settings: each read from a flag, else a `PIPELOG_*` environment variable, else the TOML
//! file named by `--config`, else its default. `docs/configuration.md` lists them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use pipelog_core::api_key::RateLimit;
use pipelog_server::ServerConfig;
use pipelog_store::sqlite::{Durability, SqliteOptions};
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
    /// Directory holding the embedded store [default: ./pipelog-data].
    #[arg(long, env = "PIPELOG_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
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
    pub data_dir: PathBuf,
    pub options: SqliteOptions,
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

fn store_settings(args: &StoreArgs, file: &FileSettings) -> StoreSettings {
    let durability = match args.durability.or(file.durability) {
        Some(DurabilityChoice::Normal) => Durability::Normal,
        Some(DurabilityChoice::Full) | None => Durability::Full,
    };
    StoreSettings {
        data_dir: args
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        options: SqliteOptions {
            durability,
            ..SqliteOptions::default()
        },
    }
}

impl StoreArgs {
    pub fn resolve(&self) -> anyhow::Result<StoreSettings> {
        let file = read_file(self.config.as_deref())?;
        Ok(store_settings(self, &file))
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
            store: store_settings(&self.store, &file),
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

    #[test]
    fn defaults() {
        let settings = parse(&[]).resolve().unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.store.data_dir, PathBuf::from("./pipelog-data"));
        assert_eq!(settings.store.options.durability, Durability::Full);
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
        let rows: Vec<&str> = doc
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
        assert_eq!(from_file.store.options.durability, Durability::Normal);
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
        assert_eq!(flagged.store.options.durability, Durability::Full);
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
