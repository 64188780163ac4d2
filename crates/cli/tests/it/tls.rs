//! HTTPS: `pipelog serve --tls-cert --tls-key` with a self-signed certificate, talked to
//! through rustls, and the start-up errors of TLS settings or files that cannot be used.
//!
//! The client is hyper's, over tokio-rustls with the ring provider: reqwest's rustls
//! features would change every reqwest client of the workspace's tests (see Cargo.toml).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::process::{CHOSEN_KEY, Server, run};

const KEY: (&str, &str) = ("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY);

/// A self-signed certificate for 127.0.0.1 and localhost, and its key, as PEM files.
struct SelfSigned {
    certificate_file: PathBuf,
    key_file: PathBuf,
    der: CertificateDer<'static>,
}

impl SelfSigned {
    fn generate(dir: &Path, name: &str) -> SelfSigned {
        let generated = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
        ])
        .unwrap();
        let certificate_file = dir.join(format!("{name}.crt"));
        let key_file = dir.join(format!("{name}.key"));
        std::fs::write(&certificate_file, generated.cert.pem()).unwrap();
        std::fs::write(&key_file, generated.signing_key.serialize_pem()).unwrap();
        SelfSigned {
            certificate_file,
            key_file,
            der: generated.cert.der().clone(),
        }
    }

    fn certificate(&self) -> &str {
        self.certificate_file.to_str().unwrap()
    }

    fn key(&self) -> &str {
        self.key_file.to_str().unwrap()
    }
}

/// An HTTPS client that trusts one certificate only and offers h2 and HTTP/1.1 in ALPN;
/// one connection per request.
struct HttpsClient {
    connector: TlsConnector,
    address: SocketAddr,
}

impl HttpsClient {
    fn new(server: &Server, trusted: &CertificateDer<'static>) -> HttpsClient {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(trusted.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let address = server
            .base
            .strip_prefix("https://")
            .unwrap_or_else(|| panic!("not listening on https: {}", server.base))
            .parse()
            .unwrap();
        HttpsClient {
            connector: TlsConnector::from(Arc::new(config)),
            address,
        }
    }

    /// A request with the chosen key: the status and the JSON answered (`Null` if none).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let tcp = TcpStream::connect(self.address).await.unwrap();
        let name = ServerName::from(self.address.ip());
        let tls = self.connector.connect(name, tcp).await.unwrap();
        assert_eq!(
            tls.get_ref().1.alpn_protocol(),
            Some(&b"http/1.1"[..]),
            "the server chooses HTTP/1.1"
        );
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.address.to_string())
            .header("x-api-key", CHOSEN_KEY)
            .header("content-type", "application/json");
        let body = body.map_or_else(Bytes::new, |body| Bytes::from(body.to_string()));
        let response = sender
            .send_request(request.body(Full::new(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_reads_go_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = SelfSigned::generate(dir.path(), "server");
    let server = Server::start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            certificate.certificate(),
            "--tls-key",
            certificate.key(),
        ],
        &[KEY],
    );
    let client = HttpsClient::new(&server, &certificate.der);

    // Plain HTTP to the HTTPS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", client.address))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");

    // A client that connects and never starts its handshake holds no one else back.
    let stalled = TcpStream::connect(client.address).await.unwrap();

    let (status, execution) = client
        .call(
            Method::POST,
            "/v1/executions",
            Some(json!({"jobKey": "over-tls"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{execution}");
    let logs = format!("/v1/executions/{}/logs", execution["id"].as_str().unwrap());
    let (status, appended) = client
        .call(
            Method::POST,
            &logs,
            Some(json!([{"message": "sent over TLS"}])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appended}");
    let (status, page) = client.call(Method::GET, &logs, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["data"][0]["message"], "sent over TLS", "{page}");

    // Still open, so the server served the others without waiting for it to time out.
    let mut byte = [0_u8; 1];
    let still_open = stalled.try_read(&mut byte);
    assert!(
        matches!(&still_open, Err(error) if error.kind() == ErrorKind::WouldBlock),
        "the stalled connection was closed: {still_open:?}"
    );
    // A graceful stop with a handshake still pending.
    assert!(server.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_files_come_from_the_environment_and_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = SelfSigned::generate(dir.path(), "server");
    let config = dir.path().join("pipelog.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\ntls_cert = {:?}\n",
            dir.path().join("data").to_str().unwrap(),
            certificate.certificate(),
        ),
    )
    .unwrap();
    let server = Server::start_raw(
        &["serve", "--config", config.to_str().unwrap()],
        &[KEY, ("PIPELOG_TLS_KEY", certificate.key())],
    );
    let client = HttpsClient::new(&server, &certificate.der);
    let (status, health) = client.call(Method::GET, "/healthz", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert!(server.terminate().success());
}

#[test]
fn tls_settings_that_cannot_be_used_stop_the_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = SelfSigned::generate(dir.path(), "good");
    let other = SelfSigned::generate(dir.path(), "other");
    let data_dir = dir.path().join("data");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let not_pem = write("not-pem.crt", "this is not a certificate\n");
    let pem = std::fs::read_to_string(&good.certificate_file).unwrap();
    let mut lines: Vec<&str> = pem.lines().collect();
    lines[2] = "!!!! not base64 !!!!";
    let damaged = write("damaged.crt", &lines.join("\n"));
    let not_der = write(
        "not-der.crt",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();

    // Starts `serve` with `args` and `env`: it must refuse, saying each of `expected`.
    let refused = |args: &[&str], env: &[(&str, &str)], expected: &[&str]| {
        let mut all = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let output = run(&all, env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started: {stderr}");
        for part in expected {
            assert!(stderr.contains(part), "{args:?}: `{part}` not in {stderr}");
        }
    };
    refused(
        &["--tls-cert", good.certificate()],
        &[],
        &["--tls-cert is given without --tls-key"],
    );
    refused(
        &[],
        &[("PIPELOG_TLS_KEY", good.key())],
        &["--tls-key is given without --tls-cert"],
    );
    refused(
        &["--tls-cert", missing, "--tls-key", good.key()],
        &[],
        &[
            "cannot read the TLS certificate file",
            missing,
            "No such file",
        ],
    );
    refused(
        &["--tls-cert", good.certificate(), "--tls-key", missing],
        &[],
        &["cannot read the TLS key file", missing, "No such file"],
    );
    refused(
        &["--tls-cert", &not_pem, "--tls-key", good.key()],
        &[],
        &[&not_pem, "holds no certificate"],
    );
    refused(
        &["--tls-cert", &damaged, "--tls-key", good.key()],
        &[],
        &[&damaged, "is not valid PEM", "base64"],
    );
    refused(
        &["--tls-cert", &not_der, "--tls-key", good.key()],
        &[],
        &[&not_der, "holds a certificate that cannot be used"],
    );
    refused(
        &[
            "--tls-cert",
            good.certificate(),
            "--tls-key",
            good.certificate(),
        ],
        &[],
        &[good.certificate(), "holds no private key"],
    );
    refused(
        &["--tls-cert", good.certificate(), "--tls-key", other.key()],
        &[],
        &[
            other.key(),
            good.certificate(),
            "does not match the certificate",
        ],
    );
    assert!(
        !data_dir.exists(),
        "the TLS settings are checked before the store is touched"
    );
}
