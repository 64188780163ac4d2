//! HTTPS: a PEM certificate chain and private key read into a rustls configuration
//! ([`TlsConfig`]), and the listener `run` serves through when one is given, which does
//! each TLS handshake on a task of its own so that a slow or broken client never holds
//! back the others.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its handshake once connected.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many handshakes may be under way at once. Beyond it, new connections wait in the
/// kernel's backlog until some finish: a flood of clients that never finish their
/// handshake costs a bounded number of sockets, not all of them.
const MAX_PENDING_HANDSHAKES: usize = 256;

/// The one protocol offered in ALPN: the server speaks HTTP/1.1 only.
const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A certificate chain and its private key, ready to serve HTTPS with.
#[derive(Clone)]
pub struct TlsConfig {
    rustls: Arc<rustls::ServerConfig>,
    certificate_file: PathBuf,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("certificate_file", &self.certificate_file)
            .finish_non_exhaustive()
    }
}

/// Why the certificate or key files cannot be served with; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {}", path.display())]
    ReadCertificate {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the TLS key file {}", path.display())]
    ReadKey {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the TLS certificate file {} is not valid PEM: {problem}", path.display())]
    CertificatePem { path: PathBuf, problem: String },
    #[error("the TLS key file {} is not valid PEM: {problem}", path.display())]
    KeyPem { path: PathBuf, problem: String },
    #[error(
        "the TLS certificate file {} holds no certificate (a PEM `BEGIN CERTIFICATE` section)",
        path.display()
    )]
    NoCertificate { path: PathBuf },
    #[error(
        "the TLS key file {} holds no private key (a PEM `BEGIN PRIVATE KEY`, \
         `BEGIN RSA PRIVATE KEY` or `BEGIN EC PRIVATE KEY` section)",
        path.display()
    )]
    NoKey { path: PathBuf },
    #[error("the TLS key file {} holds a key that cannot be used", path.display())]
    UnusableKey {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("the TLS certificate file {} holds a certificate that cannot be used", path.display())]
    UnusableCertificate {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error(
        "the key in {} does not match the certificate in {} (its first certificate must be \
         the server's own, followed by the ones that issued it)",
        key.display(),
        certificate.display()
    )]
    KeyMismatch { key: PathBuf, certificate: PathBuf },
}

impl TlsConfig {
    /// Reads a PEM certificate chain (the server's certificate first) and a PEM private
    /// key (PKCS#8, RSA or SEC1), and checks that they belong together.
    pub fn from_pem_files(certificate_file: &Path, key_file: &Path) -> Result<Self, TlsError> {
        let chain = read_certificates(certificate_file)?;
        let key = read_key(key_file)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // Loading the key alone first tells a bad key from a bad certificate.
        provider
            .key_provider
            .load_private_key(key.clone_key())
            .map_err(|source| TlsError::UnusableKey {
                path: key_file.to_owned(),
                source,
            })?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|source| match source {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    TlsError::KeyMismatch {
                        key: key_file.to_owned(),
                        certificate: certificate_file.to_owned(),
                    }
                }
                source => TlsError::UnusableCertificate {
                    path: certificate_file.to_owned(),
                    source,
                },
            })?;
        config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
        Ok(TlsConfig {
            rustls: Arc::new(config),
            certificate_file: certificate_file.to_owned(),
        })
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let text = std::fs::read(path).map_err(|source| TlsError::ReadCertificate {
        path: path.to_owned(),
        source,
    })?;
    let chain = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::CertificatePem {
            path: path.to_owned(),
            problem: pem_problem(&error),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let text = std::fs::read(path).map_err(|source| TlsError::ReadKey {
        path: path.to_owned(),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&text).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        error => TlsError::KeyPem {
            path: path.to_owned(),
            problem: pem_problem(&error),
        },
    })
}

/// What is wrong with a PEM file, in words (the parser's own text shows bytes as numbers).
fn pem_problem(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a section has no `-----END` line".to_owned(),
        pem::Error::IllegalSectionStart { .. } => "a `-----BEGIN` line is malformed".to_owned(),
        pem::Error::Base64Decode(detail) => format!("a section is not valid base64 ({detail})"),
        pem::Error::SectionTooLarge => "a section is too large".to_owned(),
        error => error.to_string(),
    }
}

/// Accepts TCP connections and hands over those whose TLS handshake succeeded. Handshakes
/// run on their own tasks, at most [`MAX_PENDING_HANDSHAKES`] at once and each for at most
/// [`HANDSHAKE_TIMEOUT`]; dropping the listener (as a graceful shutdown does) closes the
/// socket and abandons the handshakes under way.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<(SocketAddr, Result<TlsStream<TcpStream>, HandshakeFailure>)>,
}

/// Why a client's connection was not served.
#[derive(Debug, thiserror::Error)]
enum HandshakeFailure {
    #[error("the TLS handshake failed: {0}")]
    Failed(io::Error),
    #[error("the TLS handshake took longer than {} s", HANDSHAKE_TIMEOUT.as_secs())]
    TimedOut,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, config: TlsConfig) -> Self {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config.rustls),
            handshakes: JoinSet::new(),
        }
    }
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("tcp", &self.tcp)
            .field("pending_handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < MAX_PENDING_HANDSHAKES;
            // Both branches are cancel-safe: axum drops this future when shutdown begins.
            tokio::select! {
                biased;
                Some(finished) = self.handshakes.join_next() => match finished {
                    Ok((peer, Ok(stream))) => return (stream, peer),
                    Ok((peer, Err(failure))) => {
                        tracing::debug!(%peer, reason = %failure, "client not served");
                    }
                    Err(error) => tracing::warn!(%error, "a TLS handshake task failed"),
                },
                // The TCP listener's own `accept` logs and retries its errors, as axum's does.
                (stream, peer) = Listener::accept(&mut self.tcp), if room => {
                    let handshake = self.acceptor.accept(stream);
                    self.handshakes.spawn(async move {
                        let outcome = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                            Ok(Ok(stream)) => Ok(stream),
                            Ok(Err(error)) => Err(HandshakeFailure::Failed(error)),
                            Err(_) => Err(HandshakeFailure::TimedOut),
                        };
                        (peer, outcome)
                    });
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
