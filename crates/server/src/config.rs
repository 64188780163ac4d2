//! The server's settings. The CLI fills them from flags, environment and a config file;
//! see `docs/configuration.md`.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use pipelog_core::api_key::RateLimit;
use pipelog_core::audit_digest::DigestKey;

use crate::signed_url::UrlSigningKey;
use crate::tls::TlsConfig;

/// Settings of a running server (the store's own are in `pipelog_store`).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The rate limit of keys that do not set their own.
    pub default_rate_limit: RateLimit,
    /// The largest request body accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// The most request body bytes held at once (bodies being read, decoded or written);
    /// past it, requests with a body get 503 with `Retry-After` (crate::admission).
    pub max_inflight_bytes: usize,
    /// How long a key's lookup is remembered. A key revoked through this server stops
    /// working at once; revoked elsewhere (another node, the CLI), within this time.
    pub key_cache_ttl: Duration,
    /// How long shutdown waits for in-flight requests before dropping them.
    pub shutdown_grace: Duration,
    /// The key audit digests are signed with. `pipelog serve` keeps it in the data dir.
    pub digest_key: DigestKey,
    /// Where export files are built and kept until they expire.
    pub exports_dir: PathBuf,
    /// The secret download links are signed with. `pipelog serve` keeps it in the data dir.
    pub url_signing_key: UrlSigningKey,
    /// The address clients reach this server at, for the links it hands out
    /// (`https://logs.example.com`); when absent, `http://` (`https://` with `tls`) and the
    /// request's `Host`.
    pub public_url: Option<String>,
    /// The certificate and key to serve HTTPS with; `None`: plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Days of execution logs an account keeps unless it says otherwise; `None`: forever.
    pub default_log_retention_days: Option<u32>,
    /// How long an export's token answers, and its download link works, once issued.
    pub export_lifetime: Duration,
    /// How often old logs are expired and expired exports removed.
    pub maintenance_interval: Duration,
}

impl ServerConfig {
    /// The seeds' figure: 50 requests per minute.
    pub const DEFAULT_RATE_LIMIT: u32 = 50;
    pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
    pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 256 * 1024 * 1024;
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            default_rate_limit: RateLimit::PerMinute(
                NonZeroU32::new(Self::DEFAULT_RATE_LIMIT).expect("non-zero"),
            ),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            max_inflight_bytes: Self::DEFAULT_MAX_INFLIGHT_BYTES,
            key_cache_ttl: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
            digest_key: DigestKey::generate(),
            exports_dir: std::env::temp_dir().join("pipelog-exports"),
            url_signing_key: UrlSigningKey::generate(),
            public_url: None,
            tls: None,
            default_log_retention_days: None,
            export_lifetime: Duration::from_secs(60 * 60),
            maintenance_interval: Duration::from_secs(60),
        }
    }
}
