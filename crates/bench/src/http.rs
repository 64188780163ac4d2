//! The load generator: keep-alive HTTP/1.1 connections on hyper's client, each sending its
//! next request as soon as the last answer is read in full, every latency kept.
//!
//! It is deliberately thin (no pool, no redirects, no retries): the cheaper the client, the
//! more of the two shared cores is left to the server being measured.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Method;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One request to send: everything but the `Host` header, which the connection adds.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub key: Arc<str>,
    pub content_type: Option<&'static str>,
    pub header: Option<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Call {
    pub fn get(key: &Arc<str>, path: impl Into<String>) -> Call {
        Call {
            method: Method::GET,
            path: path.into(),
            key: Arc::clone(key),
            content_type: None,
            header: None,
            body: Bytes::new(),
        }
    }

    pub fn post(
        key: &Arc<str>,
        path: impl Into<String>,
        content_type: &'static str,
        body: impl Into<Bytes>,
    ) -> Call {
        Call {
            method: Method::POST,
            path: path.into(),
            key: Arc::clone(key),
            content_type: Some(content_type),
            header: None,
            body: body.into(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> anyhow::Result<Call> {
        let value = HeaderValue::from_str(value).with_context(|| format!("header {name}"))?;
        self.header = Some((HeaderName::from_static(name), value));
        Ok(self)
    }
}

/// A keep-alive connection to one server.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Connection {
    pub async fn open(address: SocketAddr) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("cannot connect to {address}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            host: HeaderValue::from_str(&address.to_string())?,
        })
    }

    /// Sends `call` and reads the whole answer; any status but 2xx is an error.
    pub async fn send(&mut self, call: &Call) -> anyhow::Result<Bytes> {
        let mut request = hyper::Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(HOST, self.host.clone())
            .header("x-api-key", &*call.key);
        if let Some(content_type) = call.content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some((name, value)) = &call.header {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(call.body.clone()))?;
        self.sender.ready().await.context("connection closed")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .with_context(|| format!("{} {}", call.method, call.path))?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!(
                "{} {}: {status}: {}",
                call.method,
                call.path,
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        Ok(body)
    }
}

/// Latencies of one run, in microseconds.
#[derive(Debug, Default)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn record(&mut self, elapsed: Duration) {
        self.0
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
    }

    fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    /// The nearest-rank percentile, in milliseconds.
    pub fn percentile_ms(&self, percent: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
        f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Run {
    pub requests: u64,
    pub bytes_sent: u64,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

impl Run {
    pub fn per_second(&self, count: f64) -> f64 {
        count / self.elapsed.as_secs_f64()
    }
}

/// Requests numbered `0..count`, built by `call` and checked by `check`, sent over
/// `connections` connections: each takes the next number as soon as it is free.
pub async fn run_numbered<C, K>(
    address: SocketAddr,
    connections: usize,
    count: u64,
    call: C,
    check: K,
) -> anyhow::Result<Run>
where
    C: Fn(u64) -> anyhow::Result<Call> + Send + Sync + 'static,
    K: Fn(u64, Bytes) -> anyhow::Result<()> + Send + Sync + 'static,
{
    let next = Arc::new(AtomicU64::new(0));
    let call = Arc::new(call);
    let check = Arc::new(check);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (next, call, check) = (Arc::clone(&next), Arc::clone(&call), Arc::clone(&check));
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await?;
            let mut latencies = Latencies::default();
            let mut bytes_sent = 0;
            loop {
                let number = next.fetch_add(1, Ordering::Relaxed);
                if number >= count {
                    return anyhow::Ok((latencies, bytes_sent));
                }
                let request = call(number)?;
                bytes_sent += request.body.len() as u64;
                let sent = Instant::now();
                let answer = connection.send(&request).await?;
                latencies.record(sent.elapsed());
                check(number, answer)?;
            }
        }));
    }
    gather(tasks, started).await
}

/// Requests built by `call(connection, n)` for `duration`, over `connections` connections.
pub async fn run_for<C>(
    address: SocketAddr,
    connections: usize,
    duration: Duration,
    call: C,
) -> anyhow::Result<Run>
where
    C: Fn(usize, u64) -> anyhow::Result<Call> + Send + Sync + 'static,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections {
        let call = Arc::clone(&call);
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await?;
            let mut latencies = Latencies::default();
            let mut bytes_sent = 0;
            let mut number = 0;
            while Instant::now() < deadline {
                let request = call(index, number)?;
                bytes_sent += request.body.len() as u64;
                let sent = Instant::now();
                connection.send(&request).await?;
                latencies.record(sent.elapsed());
                number += 1;
            }
            anyhow::Ok((latencies, bytes_sent))
        }));
    }
    gather(tasks, started).await
}

async fn gather(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<(Latencies, u64)>>>,
    started: Instant,
) -> anyhow::Result<Run> {
    let mut run = Run {
        requests: 0,
        bytes_sent: 0,
        elapsed: Duration::ZERO,
        latencies: Latencies::default(),
    };
    for task in tasks {
        let (latencies, bytes_sent) = task.await??;
        run.latencies.merge(latencies);
        run.bytes_sent += bytes_sent;
    }
    run.elapsed = started.elapsed();
    // Every request sent had its latency recorded.
    run.requests = run.latencies.0.len() as u64;
    Ok(run)
}
