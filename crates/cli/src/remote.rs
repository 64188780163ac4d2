//! The client commands' connection to a pipelog server: its address, the key, and JSON
//! requests whose failures come back as one line naming what the server said.

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use ureq::Agent;
use ureq::http::Response;

/// How long one request may take in all (connecting, sending, reading the answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A server and the key to talk to it with.
#[derive(Clone)]
pub struct Remote {
    base: String,
    key: String,
    agent: Agent,
}

/// Never shows the key.
impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Remote {
    pub fn new(url: &str, key: &str) -> anyhow::Result<Remote> {
        let base = url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("the server's URL must start with http:// or https://, got `{url}`");
        }
        let config = Agent::config_builder()
            // A 4xx or 5xx is an answer to read (its message), not a transport error.
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build();
        Ok(Remote {
            base: base.to_owned(),
            key: key.trim().to_owned(),
            agent: Agent::new_with_config(config),
        })
    }

    /// The server's address, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`, its JSON answer.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .agent
            .get(self.url(path))
            .header("X-Api-Key", &self.key)
            .header("Accept", "application/json")
            .call()
            .with_context(|| format!("cannot reach {}", self.base))?;
        json_answer("GET", path, response)
    }

    /// `GET path`, its answer as text (a chart, say), or an error with the server's message.
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let mut response = self
            .agent
            .get(self.url(path))
            .header("X-Api-Key", &self.key)
            .call()
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .with_context(|| format!("GET {path}: the answer was cut short"))?;
        if !status.is_success() {
            bail!("GET {path}: {}: {}", status.as_u16(), error_message(&text));
        }
        Ok(text)
    }

    /// `POST path` with a JSON body, its JSON answer (null when it has none).
    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .agent
            .post(self.url(path))
            .header("X-Api-Key", &self.key)
            .header("Accept", "application/json")
            .content_type("application/json")
            .send(body.to_string().as_bytes())
            .with_context(|| format!("cannot reach {}", self.base))?;
        json_answer("POST", path, response)
    }

    /// `POST path` with a body of `content_type` and extra headers, answered as it came:
    /// callers that retry tell a refusal worth retrying (429, 503) from one that is not.
    /// `Err` only when no answer came at all (the server could not be reached, or the
    /// connection broke).
    pub fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: &[u8],
    ) -> Result<RawAnswer, ureq::Error> {
        let mut request = self
            .agent
            .post(self.url(path))
            .header("X-Api-Key", &self.key)
            .header("Accept", "application/json")
            .content_type(content_type);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body)?;
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()?.trim().parse().ok())
            .map(Duration::from_secs);
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        Ok(RawAnswer {
            status,
            retry_after,
            text,
        })
    }

    /// `GET path` as a stream without a time limit (a live tail), sending `Last-Event-ID`
    /// when resuming; the answer's body to read as it comes.
    pub fn get_stream(
        &self,
        path: &str,
        last_event_id: Option<u64>,
    ) -> anyhow::Result<impl std::io::Read + use<>> {
        let mut request = self
            .agent
            .get(self.url(path))
            .header("X-Api-Key", &self.key)
            .header("Accept", "text/event-stream");
        if let Some(seq) = last_event_id {
            request = request.header("Last-Event-ID", seq.to_string());
        }
        let response = request
            .config()
            .timeout_global(None)
            .build()
            .call()
            .with_context(|| format!("cannot reach {}", self.base))?;
        if !response.status().is_success() {
            return Err(json_answer("GET", path, response).err().unwrap_or_else(|| {
                anyhow::anyhow!("GET {path}: the server did not open the stream")
            }));
        }
        Ok(response.into_body().into_reader())
    }

    /// `GET url` for a download link (which needs no key, so none is sent), from byte
    /// `offset` on (`Range`) when it is not 0; without a time limit, since files may be
    /// large. The answer as it came: 200, 206, or an error status to look at.
    pub fn download(&self, url: &str, offset: u64) -> anyhow::Result<Response<ureq::Body>> {
        let mut request = self.agent.get(url);
        if offset > 0 {
            request = request.header("Range", format!("bytes={offset}-"));
        }
        request
            .config()
            .timeout_global(None)
            .timeout_connect(Some(REQUEST_TIMEOUT))
            .build()
            .call()
            .with_context(|| format!("cannot reach {}", self.base))
    }

    /// Whether the server takes the key: any answer but 401 says it does (a key without
    /// the permission to list executions is still a key).
    pub fn check_key(&self) -> anyhow::Result<()> {
        let response = self
            .agent
            .get(self.url("/v1/executions?limit=1"))
            .header("X-Api-Key", &self.key)
            .call()
            .with_context(|| format!("cannot reach {}", self.base))?;
        match response.status().as_u16() {
            401 => bail!("the API key is not valid (unknown or revoked)"),
            status if status >= 500 => bail!("the server answered {status}"),
            _ => Ok(()),
        }
    }
}

/// An answer as it came, for callers that look at its status themselves.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// What a 429 or 503 said about when to come back.
    pub retry_after: Option<Duration>,
    pub text: String,
}

impl RawAnswer {
    /// The server's message in an error answer (`{status, message, requestId}`), else the
    /// body as it is.
    pub fn message(&self) -> String {
        error_message(&self.text)
    }
}

fn error_message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|body| body["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.trim().to_owned())
}

/// The answer's JSON, or an error holding the server's own message.
fn json_answer(
    method: &str,
    path: &str,
    mut response: Response<ureq::Body>,
) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("{method} {path}: the answer was cut short"))?;
    if !status.is_success() {
        bail!(
            "{method} {path}: {}: {}",
            status.as_u16(),
            error_message(&text)
        );
    }
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).with_context(|| format!("{method} {path}: the answer is not JSON"))
}
