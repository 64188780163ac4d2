//! Hostile input, one table: each row sends the real server something a broken or
//! malicious client would (bodies over the limit, headers too long or not ASCII, JSON
//! nested too deep, strings over their limits, invalid UTF-8, NUL bytes, find-language
//! bombs, SQL in every text, path tricks and tampered download links, numbers, dates and
//! UUIDs that are out of range or malformed) and checks what comes back: a 4xx whose
//! message names the field, header or parameter at fault, or, where the input is valid,
//! acceptance as plain data, stored verbatim and read back identical. Never a 5xx; a
//! refused write leaves the account's data as it was; the database keeps its tables.
//!
//! A second test writes operating items whose texts try to break out of a Gantt chart,
//! and reads the chart as Mermaid and as SVG.

use std::io::Write as _;
use std::time::{Duration, Instant};

use pipelog_server::{ServerConfig, UrlSigningKey};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::app::{LINK_KEY, TestApp, expect_status};

/// What an attacker puts in a text field hoping it reaches SQL unquoted.
const SQL: &[&str] = &[
    "'; DROP TABLE executions; --",
    "\" OR 1=1 --",
    "x'); DELETE FROM audit_entries WHERE ('1'='1",
    "1; UPDATE api_keys SET revoked_at = NULL; --",
];
/// The same, with no spaces, for fields that take visible ASCII only (cids, audit ids).
const SQL_NO_SPACES: &str = "';DROP/**/TABLE/**/executions;--";
/// The body limit of the second server.
const SMALL_LIMIT: usize = 4096;
/// 2^64: one past the largest unsigned 64-bit number.
const TWO_TO_THE_64: &str = "18446744073709551616";
const NOT_NUMBERS: &[&str] = &["-1", "abc", TWO_TO_THE_64, "1.5", "1e3", "0x10", ""];
const BAD_DATES: &[&str] = &[
    "2026-13-45",
    "2026-13-45T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "yesterday",
    "99999-01-01T00:00:00Z",
    "+999999999-01-01T00:00:00Z",
    "2026-01-01T25:61:00Z",
    "1e308",
    // Just past the range pipelog takes.
    "9999-12-31T23:59:59.999Z",
    "-009999-01-01T00:00:00Z",
    // Past it by less than a second: was taken, and then could not be shown (the answer
    // failed, and a stored line made its whole log unreadable).
    "9999-12-30T22:00:00.999Z",
    "9999-12-30T22:00:00.001+00:00",
];
/// The first and last instants pipelog takes, as it shows them.
const FIRST_INSTANT: &str = "-009999-01-02T01:59:59.000Z";
const LAST_INSTANT: &str = "9999-12-30T22:00:00.000Z";
/// Malformed UUIDs: too short, not hex, too long, SQL.
const BAD_UUIDS: &[&str] = &[
    "1234",
    "zzzzzzzz-zzzz-4zzz-8zzz-zzzzzzzzzzzz",
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8-00",
    "' OR '1'='1",
];
/// Valid UUIDs no resource has: a version 1, the nil UUID, the max UUID, a version 7.
const FOREIGN_UUIDS: &[&str] = &[
    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "0193a5b2-7c1e-7d3a-9f0e-1b2c3d4e5f60",
];

/// Which of the two servers a row goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// The default configuration.
    Default,
    /// `--max-body-bytes` of [`SMALL_LIMIT`].
    SmallBodies,
}

#[derive(Clone, Debug)]
enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
    /// Sent chunked, without a `Content-Length`, so only the server's counting stops it.
    Chunked(&'static str, Vec<u8>),
}

/// What a row expects.
#[derive(Clone, Debug)]
enum Expect {
    /// Refused with this status and pipelog's error body, whose message holds the text.
    Refused(StatusCode, &'static str),
    /// Refused with this status and a body a protocol prescribes (OTLP's `Status`), which
    /// holds the text.
    RefusedByProtocol(StatusCode, &'static str),
    /// Refused by the HTTP layer before any of pipelog's code runs: the status alone.
    RefusedByHttp(StatusCode),
    /// Served: a read, or a write whose input is ignored.
    Served(StatusCode),
    /// Like `Stored`, but only the read holds the values (the write answers counts).
    ReadBack {
        status: StatusCode,
        read: String,
        values: Vec<Value>,
    },
    /// A find answered 200 with this many entries.
    Finds(usize),
    /// Accepted with this status; then a read of `read` (where `{/pointer}` is taken from
    /// the write's answer) holds each value, equal as JSON, somewhere in its answer.
    Stored {
        status: StatusCode,
        read: String,
        values: Vec<Value>,
    },
}

#[derive(Clone, Debug)]
struct Row {
    what: String,
    server: Server,
    method: Method,
    /// The request target (path and query), sent as these bytes.
    target: Vec<u8>,
    /// Sent on a plain TCP connection, byte for byte, rather than through reqwest (which
    /// would normalise `..` and refuses bytes a URL cannot hold).
    raw: bool,
    headers: Vec<(String, Vec<u8>)>,
    /// Whether the row sends the fixture's key (download links need none).
    keyed: bool,
    body: Body,
    expect: Expect,
}

fn row(what: impl Into<String>, method: Method, target: impl Into<String>) -> Row {
    Row {
        what: what.into(),
        server: Server::Default,
        method,
        target: target.into().into_bytes(),
        raw: false,
        headers: Vec::new(),
        keyed: true,
        body: Body::None,
        expect: Expect::Served(StatusCode::OK),
    }
}

fn get(what: impl Into<String>, target: impl Into<String>) -> Row {
    row(what, Method::GET, target)
}

fn post(what: impl Into<String>, target: impl Into<String>, body: Value) -> Row {
    row(what, Method::POST, target).json(body)
}

impl Row {
    fn json(self, body: Value) -> Row {
        Row {
            body: Body::Json(body),
            ..self
        }
    }

    fn raw_body(self, content_type: &'static str, bytes: impl Into<Vec<u8>>) -> Row {
        Row {
            body: Body::Raw(content_type, bytes.into()),
            ..self
        }
    }

    fn chunked_body(self, content_type: &'static str, bytes: impl Into<Vec<u8>>) -> Row {
        Row {
            body: Body::Chunked(content_type, bytes.into()),
            ..self
        }
    }

    fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Row {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn raw_target(self, target: impl Into<Vec<u8>>) -> Row {
        Row {
            target: target.into(),
            raw: true,
            ..self
        }
    }

    fn keyless(self) -> Row {
        Row {
            keyed: false,
            ..self
        }
    }

    fn on_small_server(self) -> Row {
        Row {
            server: Server::SmallBodies,
            ..self
        }
    }

    /// 400 naming `needle`.
    fn refused(self, needle: &'static str) -> Row {
        self.refused_with(StatusCode::BAD_REQUEST, needle)
    }

    fn refused_with(self, status: StatusCode, needle: &'static str) -> Row {
        Row {
            expect: Expect::Refused(status, needle),
            ..self
        }
    }

    fn refused_by_protocol(self, status: StatusCode, needle: &'static str) -> Row {
        Row {
            expect: Expect::RefusedByProtocol(status, needle),
            ..self
        }
    }

    fn refused_by_http(self, status: StatusCode) -> Row {
        Row {
            expect: Expect::RefusedByHttp(status),
            ..self
        }
    }

    fn served(self, status: StatusCode) -> Row {
        Row {
            expect: Expect::Served(status),
            ..self
        }
    }

    fn finds(self, count: usize) -> Row {
        Row {
            expect: Expect::Finds(count),
            ..self
        }
    }

    /// Like [`Row::stored`], for a write whose answer does not repeat what it wrote.
    fn read_back(self, status: StatusCode, read: impl Into<String>, values: Vec<Value>) -> Row {
        Row {
            expect: Expect::ReadBack {
                status,
                read: read.into(),
                values,
            },
            ..self
        }
    }

    fn stored(self, status: StatusCode, read: impl Into<String>, values: Vec<Value>) -> Row {
        Row {
            expect: Expect::Stored {
                status,
                read: read.into(),
                values,
            },
            ..self
        }
    }

    fn writes(&self) -> bool {
        self.method != Method::GET
    }

    fn describe(&self) -> String {
        let target = String::from_utf8_lossy(&self.target);
        format!("{} ({} {})", self.what, self.method, brief(&target, 120))
    }
}

/// `text` cut to about `max` bytes, for failure messages.
fn brief(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = (0..=max)
        .rev()
        .find(|end| text.is_char_boundary(*end))
        .unwrap_or(0);
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// Percent-encodes every byte but ASCII letters and digits, for a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// `depth` arrays, one inside the other.
fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// `{"a": {"a": ... 1}}`, `depth` objects deep.
fn nested_objects(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| json!({ "a": inner }))
}

/// A find query of `and`s `depth` levels deep around one test.
fn nested_find(depth: usize) -> Value {
    (1..depth).fold(
        json!({"type": "eq", "field": "type", "value": "x"}),
        |inner, _| json!({"type": "and", "queries": [inner]}),
    )
}

/// A valid body with `bytes` bytes of `a` in `field`, the others small.
fn padded(mut body: Value, field: &str, bytes: usize) -> Value {
    body[field] = json!("a".repeat(bytes));
    body
}

/// The resources the table's rows aim at, in account `hostile`.
struct Fixture {
    key: String,
    /// A running execution with two lines.
    run: String,
    run_cid: String,
    /// A queued execution, ended by nothing in the table.
    queued: String,
    /// An ended execution (its live tail ends at once).
    ended: String,
    /// A ready export of `run`, and its file name.
    token: String,
    file_name: String,
    /// An operating log item.
    item: String,
}

impl Fixture {
    async fn make(app: &TestApp) -> Fixture {
        let key = app.full_key("hostile").await;
        let run = app.launch(&key, "hostile-job").await;
        let run_id = run["id"].as_str().unwrap().to_owned();
        expect_status(
            app.post(&format!("/v1/executions/{run_id}/start"), &key, json!({}))
                .await,
            StatusCode::OK,
        )
        .await;
        app.append(&key, &run_id, &["first line", "100%_done"])
            .await;
        let queued = app.launch_id(&key, "hostile-job").await;
        let ended = app.launch_id(&key, "hostile-job").await;
        app.end(&key, &ended, "COMPLETED").await;
        let item = expect_status(
            app.post(
                "/api/v1/OperatingLogs",
                &key,
                json!({"operationType": "InputData", "message": "an item"}),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        // Audit entries that LIKE or GLOB wildcards would match if they reached SQL.
        for note in ["100%_done", "plain"] {
            expect_status(
                app.post(
                    "/v1/audit_logs",
                    &key,
                    json!({"entityType": "note", "type": "note.add", "version": "1",
                           "details": {"note": note}}),
                )
                .await,
                StatusCode::CREATED,
            )
            .await;
        }
        let export = expect_status(
            app.post(
                &format!("/monitoring/executions/{run_id}/logs"),
                &key,
                Value::Null,
            )
            .await,
            StatusCode::OK,
        )
        .await;
        let token = export["token"].as_str().unwrap().to_owned();
        let link = ready_link(app, &key, &run_id, &token).await;
        let file_name = link
            .split('?')
            .next()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned();
        Fixture {
            key,
            run: run_id,
            run_cid: run["cid"].as_str().unwrap().to_owned(),
            queued,
            ended,
            token,
            file_name,
            item: item["id"].as_str().unwrap().to_owned(),
        }
    }
}

async fn ready_link(app: &TestApp, key: &str, execution: &str, token: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = app
            .request(
                Method::POST,
                &format!("/monitoring/executions/{execution}/logs/status"),
                key,
            )
            .body(token.to_owned())
            .send()
            .await
            .unwrap();
        let status = expect_status(status, StatusCode::OK).await;
        if status["status"] == "READY" {
            return status["presignedURL"].as_str().unwrap().to_owned();
        }
        assert_eq!(status["status"], "IN_PROGRESS", "{status}");
        assert!(Instant::now() < deadline, "the export never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A download link's path and query, signed with the test servers' key (or `key`).
fn signed(path: &str, signed_path: &str, expires: i64, key: &UrlSigningKey) -> String {
    format!(
        "{path}?expires={expires}&signature={}",
        key.sign(signed_path, expires)
    )
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A JSON log line that is valid.
fn line() -> Value {
    json!({"message": "m"})
}

fn data_factory_body() -> Value {
    json!({"message": "m", "emitterName": "e", "eventCorrelationId": "c"})
}

fn audit_body() -> Value {
    json!({"entityType": "item", "type": "item.update", "version": "1", "details": {"k": "v"}})
}

fn item_body() -> Value {
    json!({"operationType": "InputData", "message": "m"})
}

fn lineage_body(run_id: &str, namespace: &str, name: &str) -> Value {
    json!({"eventType": "START", "run": {"runId": run_id},
           "job": {"namespace": namespace, "name": name}})
}

/// Every endpoint that reads a JSON body: method, path, and a valid body.
fn json_endpoints(f: &Fixture) -> Vec<(Method, String, Value)> {
    vec![
        (
            Method::POST,
            "/v1/data-factory/log".into(),
            data_factory_body(),
        ),
        (
            Method::POST,
            "/v1/data-factory/logs".into(),
            json!([line()]),
        ),
        (
            Method::POST,
            "/v1/executions".into(),
            json!({"jobKey": "j"}),
        ),
        (
            Method::POST,
            format!("/v1/executions/{}/logs", f.run),
            json!([line()]),
        ),
        (
            Method::POST,
            format!("/v1/executions/{}/end", f.queued),
            json!({"status": "FAILED"}),
        ),
        (
            Method::POST,
            "/v1/executions/claim".into(),
            json!({"jobKey": "nothing-queued"}),
        ),
        (Method::POST, "/v1/audit_logs".into(), audit_body()),
        (
            Method::POST,
            "/v1/audit_logs/find".into(),
            json!({"type": "eq", "field": "type", "value": "x"}),
        ),
        (
            Method::POST,
            "/v1/audit_logs/verify".into(),
            json!({"accountId": "1", "entries": 0, "headHash": "00", "issuedAt": "2026-01-01T00:00:00Z", "algorithm": "Ed25519", "signature": ""}),
        ),
        (Method::POST, "/api/v1/OperatingLogs".into(), item_body()),
        (
            Method::POST,
            "/api/v1/OperatingLogs/batch".into(),
            json!([item_body()]),
        ),
        (
            Method::POST,
            "/v1/keys".into(),
            json!({"permissions": ["JOBS_READ"]}),
        ),
        (
            Method::PUT,
            "/v1/retention".into(),
            json!({"executionLogsDays": 30}),
        ),
        (
            Method::POST,
            "/api/v1/lineage".into(),
            lineage_body("run-1", "ns", "job"),
        ),
    ]
}

/// A row for `endpoint`, with the `cid` header the Data Factory route needs.
fn to(what: String, method: &Method, path: &str) -> Row {
    let row = row(what, method.clone(), path);
    if path.starts_with("/v1/data-factory/") {
        row.header("cid", "hostile-cid")
    } else {
        row
    }
}

fn body_limit_rows(f: &Fixture) -> Vec<Row> {
    let mut rows = Vec::new();
    for (method, path, body) in json_endpoints(f) {
        let mut big = body.to_string().into_bytes();
        // Blanks are valid JSON, so only the size is wrong.
        big.extend(std::iter::repeat_n(b' ', SMALL_LIMIT));
        rows.push(
            to(
                format!("a body over --max-body-bytes to {path}"),
                &method,
                &path,
            )
            .on_small_server()
            .raw_body("application/json", big.clone())
            .refused_with(
                StatusCode::PAYLOAD_TOO_LARGE,
                "larger than this server accepts",
            ),
        );
        rows.push(
            to(
                format!("a chunked body over --max-body-bytes to {path}"),
                &method,
                &path,
            )
            .on_small_server()
            .chunked_body("application/json", big)
            .refused_with(
                StatusCode::PAYLOAD_TOO_LARGE,
                "larger than this server accepts",
            ),
        );
    }
    let ndjson = format!("{}\n", line()).repeat(SMALL_LIMIT / 10);
    rows.push(
        post(
            "an NDJSON batch over --max-body-bytes",
            format!("/v1/executions/{}/logs", f.run),
            Value::Null,
        )
        .on_small_server()
        .raw_body("application/x-ndjson", ndjson)
        .refused_with(
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than this server accepts",
        ),
    );
    rows.push(
        post(
            "an export token body over --max-body-bytes",
            format!("/monitoring/executions/{}/logs/status", f.run),
            Value::Null,
        )
        .on_small_server()
        .raw_body(
            "text/plain",
            format!("{}{}", f.token, " ".repeat(SMALL_LIMIT)),
        )
        .refused_with(
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than this server accepts",
        ),
    );
    let otlp = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"stringValue": "a".repeat(SMALL_LIMIT)}}]}]}]});
    rows.push(
        post("an OTLP export over --max-body-bytes", "/v1/logs", otlp)
            .on_small_server()
            .refused_by_protocol(
                StatusCode::PAYLOAD_TOO_LARGE,
                "larger than this server accepts",
            ),
    );
    // A gzip bomb: 2 MiB of zeros in 2 KiB.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b'0'; 1 << 20];
    for _ in 0..2 {
        gzip.write_all(&zeros).unwrap();
    }
    let bomb = gzip.finish().unwrap();
    assert!(bomb.len() < SMALL_LIMIT, "{}", bomb.len());
    rows.push(
        post("a gzip bomb to OTLP", "/v1/logs", Value::Null)
            .on_small_server()
            .header("content-encoding", "gzip")
            .raw_body("application/json", bomb)
            .refused_by_protocol(StatusCode::PAYLOAD_TOO_LARGE, "gunzipped"),
    );
    rows
}

/// A cursor as the server would encode `plain`.
fn cursor(plain: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain)
}

fn header_rows(f: &Fixture) -> Vec<Row> {
    let log = "/v1/data-factory/log";
    let stream = format!("/v1/executions/{}/logs/stream", f.ended);
    vec![
        post("a cid over 256 bytes", log, data_factory_body())
            .header("cid", "c".repeat(257))
            .refused("header `cid`: must be at most 256 bytes"),
        post("a cid of 64 KiB", log, data_factory_body())
            .header("cid", "c".repeat(64 * 1024))
            .refused("header `cid`: must be at most 256 bytes"),
        post("a cid that is not ASCII", log, data_factory_body())
            .header("cid", b"caf\xe9".to_vec())
            .refused("header `cid`: it may hold only visible ASCII"),
        post("a cid in UTF-8", log, data_factory_body())
            .header("cid", "café".as_bytes().to_vec())
            .refused("header `cid`"),
        post("a cid holding SQL with spaces", log, data_factory_body())
            .header("cid", SQL[0])
            .refused("header `cid`: may hold only visible ASCII characters (no spaces)"),
        post("an empty cid", log, data_factory_body())
            .header("cid", "")
            .refused("header `cid`: must not be empty"),
        get("an API key that is not ASCII", "/v1/executions")
            .header("x-api-key", b"pl_\xff\xfe".to_vec())
            .refused_with(StatusCode::UNAUTHORIZED, "the API key is not valid"),
        get("an API key of 64 KiB", "/v1/executions")
            .header("x-api-key", "k".repeat(64 * 1024))
            .refused_with(StatusCode::UNAUTHORIZED, "the API key is not valid"),
        get("a bearer token of 64 KiB", "/v1/executions")
            .keyless()
            .header("authorization", format!("Bearer {}", "k".repeat(64 * 1024)))
            .refused_with(StatusCode::UNAUTHORIZED, "the API key is not valid"),
        get("a bearer token that is not ASCII", "/v1/executions")
            .keyless()
            .header("authorization", b"Bearer \xe9\xe9".to_vec())
            .refused_with(StatusCode::UNAUTHORIZED, "the API key is not valid"),
        get(
            "an Authorization of another scheme, with SQL",
            "/v1/executions",
        )
        .keyless()
        .header("authorization", format!("Basic {}", SQL[1]))
        .refused_with(StatusCode::UNAUTHORIZED, "`Bearer <key>`"),
        get("a Last-Event-ID that is not ASCII", stream.clone())
            .header("last-event-id", b"4\xff".to_vec())
            .refused("header `Last-Event-ID`"),
        get("a Last-Event-ID of 2^64", stream.clone())
            .header("last-event-id", TWO_TO_THE_64)
            .refused("header `Last-Event-ID`"),
        get("a Last-Event-ID of 64 KiB", stream.clone())
            .header("last-event-id", "9".repeat(64 * 1024))
            .refused("header `Last-Event-ID`"),
        get("a negative Last-Event-ID", stream.clone())
            .header("last-event-id", "-1")
            .refused("header `Last-Event-ID`"),
        get("a Last-Event-ID of 2^64 - 1", stream.clone())
            .header("last-event-id", "18446744073709551615")
            .refused("header `Last-Event-ID`: no line"),
        get(
            "a Last-Event-ID past the last line",
            format!("/v1/executions/{}/logs/stream", f.run),
        )
        .header("last-event-id", "2")
        .refused("header `Last-Event-ID`: no line"),
        get(
            "a cursor of a log read at seq 2^64 - 1",
            format!("{stream}?cursor={}", cursor("log:asc:18446744073709551615")),
        )
        .refused("query parameter `cursor`: no line"),
        post(
            "a Content-Type that is not ASCII",
            "/v1/executions",
            json!({"jobKey": "j"}),
        )
        .header("content-type", b"application/json\xff".to_vec())
        .refused_with(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"),
        post(
            "a Content-Type of 64 KiB",
            "/v1/executions",
            json!({"jobKey": "j"}),
        )
        .header("content-type", format!("text/{}", "x".repeat(64 * 1024)))
        .refused_with(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"),
        get(
            "an X-Request-Id that is not ASCII (replaced)",
            "/v1/executions",
        )
        .header("x-request-id", b"id-\xff".to_vec())
        .served(StatusCode::OK),
        get("a request target of 100 KiB", "/")
            .raw_target(format!("/v1/executions?jobKey={}", "j".repeat(100 * 1024)))
            .refused_by_http(StatusCode::URI_TOO_LONG),
        (0..100)
            .fold(get("101 headers", "/v1/executions"), |row, n| {
                row.header(format!("x-header-{n}"), "v")
            })
            .refused_by_http(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        get("headers over the HTTP layer's limit", "/v1/executions")
            .header("x-padding", "p".repeat(512 * 1024))
            .refused_by_http(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        get("headers over pipelog's 128 KiB", "/v1/executions")
            .header("x-padding", "p".repeat(130 * 1024))
            .refused_with(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "more than 131072",
            ),
    ]
}

/// Where each JSON endpoint meets a deep value (`DEEP`), and what it says: where a field
/// takes any JSON, serde_json's recursion limit; where a field takes a string or a
/// number, that field's type.
fn deep_bodies(f: &Fixture) -> Vec<(Method, String, &'static str, &'static str)> {
    let recursion = "recursion limit exceeded";
    vec![
        (
            Method::POST,
            "/v1/data-factory/log".into(),
            r#"{"message": DEEP, "emitterName": "e", "eventCorrelationId": "c"}"#,
            "`message`: invalid type: sequence",
        ),
        (
            Method::POST,
            "/v1/executions".into(),
            r#"{"jobKey": "j", "input": {"deep": DEEP}}"#,
            recursion,
        ),
        (
            Method::POST,
            "/v1/executions".into(),
            r#"{"jobKey": "j", "jobPeriodicity": [DEEP]}"#,
            recursion,
        ),
        (
            Method::POST,
            format!("/v1/executions/{}/logs", f.run),
            r#"[{"message": "m", "attributes": {"deep": DEEP}}]"#,
            recursion,
        ),
        (
            Method::POST,
            format!("/v1/executions/{}/end", f.queued),
            r#"{"status": DEEP}"#,
            "`status`: invalid type: sequence",
        ),
        (
            Method::POST,
            "/v1/executions/claim".into(),
            r#"{"jobKey": DEEP}"#,
            "`jobKey`: invalid type: sequence",
        ),
        (
            Method::POST,
            "/v1/audit_logs".into(),
            r#"{"entityType": "e", "type": "t", "version": "1", "details": {"deep": DEEP}}"#,
            recursion,
        ),
        (
            Method::POST,
            "/v1/audit_logs/find".into(),
            "DEEP",
            recursion,
        ),
        (
            Method::POST,
            "/v1/audit_logs/verify".into(),
            r#"{"accountId": DEEP}"#,
            "`accountId`: invalid type: sequence",
        ),
        (
            Method::POST,
            "/api/v1/OperatingLogs".into(),
            r#"{"operationType": "InputData", "deep": DEEP}"#,
            recursion,
        ),
        (
            Method::POST,
            "/api/v1/OperatingLogs/batch".into(),
            "[DEEP]",
            recursion,
        ),
        (
            Method::POST,
            "/v1/keys".into(),
            r#"{"permissions": DEEP}"#,
            "`permissions",
        ),
        (
            Method::PUT,
            "/v1/retention".into(),
            r#"{"executionLogsDays": DEEP}"#,
            "`executionLogsDays`: invalid type: sequence",
        ),
        (
            Method::POST,
            "/api/v1/lineage".into(),
            r#"{"eventType": "START", "run": {"runId": "r"}, "job": DEEP}"#,
            "`job[0]`: invalid type: sequence",
        ),
    ]
}

fn depth_rows(f: &Fixture) -> Vec<Row> {
    let mut rows = Vec::new();
    for (method, path, template, needle) in deep_bodies(f) {
        for depth in [200, 100_000] {
            let text = template.replace("DEEP", &nested_arrays(depth));
            rows.push(
                to(
                    format!("JSON nested {depth} levels deep at {template} to {path}"),
                    &method,
                    &path,
                )
                .raw_body("application/json", text)
                .refused(needle),
            );
        }
    }
    rows.push(
        post("OTLP JSON nested 200 levels deep", "/v1/logs", Value::Null)
            .raw_body(
                "application/json",
                format!("{{\"resourceLogs\": {}}}", nested_arrays(200)),
            )
            .refused_by_protocol(StatusCode::BAD_REQUEST, "invalid OTLP JSON"),
    );
    let mut deep_details = audit_body();
    deep_details["details"] = json!({ "x": nested_objects(16) });
    rows.push(
        post(
            "audit details 17 levels deep",
            "/v1/audit_logs",
            deep_details,
        )
        .refused("field `details`: must nest at most 16 levels deep"),
    );
    let mut wide_details = audit_body();
    wide_details["details"] = json!({ "x": vec![0; 1001] });
    rows.push(
        post(
            "audit details of 1,002 values",
            "/v1/audit_logs",
            wide_details,
        )
        .refused("field `details`: must hold at most 1000 values"),
    );
    rows.push(
        post(
            "a find query 11 levels deep",
            "/v1/audit_logs/find",
            nested_find(11),
        )
        .refused("the query nests deeper than 10 levels"),
    );
    rows.push(
        post(
            "a find query 50 levels deep",
            "/v1/audit_logs/find",
            nested_find(50),
        )
        .refused("the query nests deeper than 10 levels"),
    );
    rows.push(
        post(
            "a find query 1,000 levels deep",
            "/v1/audit_logs/find",
            Value::Null,
        )
        .raw_body(
            "application/json",
            format!(
                "{}{}{}",
                r#"{"type": "and", "queries": ["#.repeat(999),
                r#"{"type": "eq", "field": "type", "value": "x"}"#,
                "]}".repeat(999)
            ),
        )
        .refused("find query is not valid JSON: recursion limit exceeded"),
    );
    rows.push(
        post(
            "a find query 10 levels deep (the limit)",
            "/v1/audit_logs/find",
            nested_find(10),
        )
        .served(StatusCode::OK),
    );
    rows
}

fn length_rows(f: &Fixture) -> Vec<Row> {
    let mib = 1024 * 1024;
    let logs = format!("/v1/executions/{}/logs", f.run);
    let df = |field: &str, bytes: usize| padded(data_factory_body(), field, bytes);
    let audit = |field: &str, bytes: usize| padded(audit_body(), field, bytes);
    let item = |field: &str, bytes: usize| padded(item_body(), field, bytes);
    let launch = |field: &str, bytes: usize| padded(json!({"jobKey": "j"}), field, bytes);
    vec![
        post("a Data Factory message over 1 MiB", "/v1/data-factory/log", df("message", mib + 1))
            .header("cid", "hostile-cid")
            .refused("`message`: must be at most 1048576 bytes"),
        post("an emitterName over 256 bytes", "/v1/data-factory/log", df("emitterName", 257))
            .header("cid", "hostile-cid")
            .refused("`emitterName`: must be at most 256 bytes"),
        post(
            "an eventCorrelationId over 256 bytes",
            "/v1/data-factory/log",
            df("eventCorrelationId", 257),
        )
        .header("cid", "hostile-cid")
        .refused("`eventCorrelationId`: must be at most 256 bytes"),
        post("a log line's message over 1 MiB", &logs, json!([line(), {"message": "a".repeat(mib + 1)}]))
            .refused("`[1].message`: must be at most 1048576 bytes"),
        post("a log line's emitterName over 256 bytes", &logs, json!([{"message": "m", "emitterName": "e".repeat(257)}]))
            .refused("`[0].emitterName`: must be at most 256 bytes"),
        post("a log line's attributes over 16 KiB", &logs, json!([{"message": "m", "attributes": {"a": "a".repeat(16 * 1024)}}]))
            .refused("`[0].attributes`: must be at most 16384 bytes"),
        post("10,001 log lines", &logs, Value::Array(vec![line(); 10_001]))
            .refused("at most 10000 entries"),
        post("an audit entityType over 128 bytes", "/v1/audit_logs", audit("entityType", 129))
            .refused("`entityType`: must be at most 128 bytes"),
        post("an audit type over 128 bytes", "/v1/audit_logs", audit("type", 129))
            .refused("`type`: must be at most 128 bytes"),
        post("an audit version over 32 bytes", "/v1/audit_logs", audit("version", 33))
            .refused("`version`: must be at most 32 bytes"),
        post("an audit id over 128 bytes", "/v1/audit_logs", audit("id", 129))
            .refused("`id`: must be at most 128 bytes"),
        post(
            "audit details over 64 KiB",
            "/v1/audit_logs",
            json!({"entityType": "item", "type": "t", "version": "1", "details": {"text": "a".repeat(64 * 1024)}}),
        )
        .refused("field `details`: must be at most 65536 bytes"),
        post("an item message over 64 KiB", "/api/v1/OperatingLogs", item("message", 64 * 1024 + 1))
            .refused("`message`: must be at most 65536 bytes"),
        post(
            "an item detail line over 16 KiB",
            "/api/v1/OperatingLogs",
            json!({"operationType": "InputData", "details": ["ok", "a".repeat(16 * 1024 + 1)]}),
        )
        .refused("`details[1]`: must be at most 16384 bytes"),
        post(
            "101 item detail lines",
            "/api/v1/OperatingLogs",
            json!({"operationType": "InputData", "details": vec!["d"; 101]}),
        )
        .refused("`details`: at most 100 lines"),
        post(
            "a custom field key over 256 bytes",
            "/api/v1/OperatingLogs",
            json!({"operationType": "InputData", "customFields": [{"key": "k".repeat(257), "value": "v"}]}),
        )
        .refused("`customFields[0].key`: must be at most 256 bytes"),
        post(
            "a custom field value over 4 KiB",
            "/api/v1/OperatingLogs",
            json!({"operationType": "InputData", "customFields": [{"key": "k", "value": "v".repeat(4097)}]}),
        )
        .refused("`customFields[0].value`: must be at most 4096 bytes"),
        post("an item source over 256 bytes", "/api/v1/OperatingLogs", item("source", 257))
            .refused("`source`: must be at most 256 bytes"),
        post(
            "a scope id over 128 bytes",
            "/api/v1/OperatingLogs",
            json!({"operationType": "InputData", "activityType": "Application|Begin", "scopeId": "s".repeat(129)}),
        )
        .refused("`scopeId`: must be at most 128 bytes"),
        post("a custom category over 128 bytes", "/api/v1/OperatingLogs", item("customCategory", 129))
            .refused("`customCategory`: must be at most 128 bytes"),
        post(
            "a batch whose third item's message is over 64 KiB",
            "/api/v1/OperatingLogs/batch",
            json!([item_body(), item_body(), item("message", 64 * 1024 + 1)]),
        )
        .refused("`[2].message`: must be at most 65536 bytes"),
        post("a job key over 256 bytes", "/v1/executions", launch("jobKey", 257))
            .refused("`jobKey`: must be at most 256 bytes"),
        post("a job title over 512 bytes", "/v1/executions", launch("jobTitle", 513))
            .refused("`jobTitle`: must be at most 512 bytes"),
        post("a pipeline id over 256 bytes", "/v1/executions", launch("pipelineId", 257))
            .refused("`pipelineId`: must be at most 256 bytes"),
        post("a system job type over 128 bytes", "/v1/executions", launch("systemJobType", 129))
            .refused("`systemJobType`: must be at most 128 bytes"),
        post("a claimed job key over 256 bytes", "/v1/executions/claim", json!({"jobKey": "j".repeat(257)}))
            .refused("`jobKey`: must be at most 256 bytes"),
        get("a jobKey filter over 256 bytes", format!("/v1/executions?jobKey={}", "j".repeat(257)))
            .refused("query parameter `jobKey`: must be at most 256 bytes"),
        post("a key name over 128 bytes", "/v1/keys", json!({"permissions": ["JOBS_READ"], "name": "n".repeat(129)}))
            .refused("`name`: must be at most 128 bytes"),
        post("an account name over 64 bytes", "/v1/keys", json!({"permissions": ["JOBS_READ"], "account": "a".repeat(65)}))
            .refused("`account`: must be at most 64 bytes"),
        post(
            "an agent code over 128 bytes",
            "/v1/keys",
            json!({"permissions": ["JOBS_READ"], "agent": {"agentId": FOREIGN_UUIDS[0], "agentCode": "c".repeat(129)}}),
        )
        .refused("`agent.agentCode`: must be at most 128 bytes"),
        get("an account filter over 64 bytes", format!("/v1/retention?account={}", "a".repeat(65)))
            .refused("query parameter `account`: must be at most 64 bytes"),
        get("an agentCode filter over 128 bytes", format!("/api/v1/OperatingLogs?agentCode={}", "c".repeat(129)))
            .refused("query parameter `agentCode`: must be at most 128 bytes"),
        post("a lineage run id over 256 bytes", "/api/v1/lineage", lineage_body(&"r".repeat(257), "ns", "job"))
            .refused("run.runId: must be at most 256 bytes"),
        post("a lineage job over 256 bytes", "/api/v1/lineage", lineage_body("run-2", "ns", &"j".repeat(256)))
            .refused("job (namespace/name as a job key): must be at most 256 bytes"),
        post("an export token of 64 KiB", format!("/monitoring/executions/{}/logs/status", f.run), Value::Null)
            .raw_body("text/plain", "t".repeat(64 * 1024))
            .refused("invalid body: expected the token"),
    ]
}

fn encoding_rows(f: &Fixture) -> Vec<Row> {
    let logs = format!("/v1/executions/{}/logs", f.run);
    let mut rows = Vec::new();
    for (method, path, _) in json_endpoints(f) {
        rows.push(
            to(
                format!("invalid UTF-8 in the JSON body of {path}"),
                &method,
                &path,
            )
            .raw_body("application/json", b"{\"unknown\": \"caf\xe9\"}".to_vec())
            .refused("is not valid JSON: invalid UTF-8"),
        );
    }
    rows.extend([
        post("a lone surrogate escape in a message", &logs, Value::Null)
            .raw_body("application/json", r#"[{"message": "\ud800"}]"#)
            .refused("body is not valid JSON"),
        post("invalid UTF-8 on NDJSON line 2", &logs, Value::Null)
            .raw_body("application/x-ndjson", b"{\"message\": \"a\"}\n{\"message\": \"\xff\"}\n".to_vec())
            .refused("body line 2 is not valid JSON: invalid UTF-8"),
        post("invalid UTF-8 in an export token", format!("/monitoring/executions/{}/logs/status", f.run), Value::Null)
            .raw_body("text/plain", b"\xff\xfe".to_vec())
            .refused("invalid body: expected the export token as text"),
        post("invalid UTF-8 in OTLP JSON", "/v1/logs", Value::Null)
            .raw_body("application/json", b"{\"resourceLogs\": \"\xff\"}".to_vec())
            .refused_by_protocol(StatusCode::BAD_REQUEST, "invalid"),
        post("garbage as OTLP protobuf", "/v1/logs", Value::Null)
            .raw_body("application/x-protobuf", b"\xff\xff\xff\xff\xff".to_vec())
            .refused_by_protocol(StatusCode::BAD_REQUEST, "protobuf"),
        get("percent-encoded invalid UTF-8 in a query value", "/v1/executions?jobKey=caf%E9")
            .refused("query parameter `jobKey`: not valid UTF-8"),
        get("percent-encoded invalid UTF-8 in a query name", "/v1/executions?job%FFKey=x")
            .refused("query string: not valid UTF-8"),
        get("percent-encoded invalid UTF-8 in an operating filter", "/api/v1/OperatingLogs?agentCode=%FF%FE")
            .refused("query parameter `agentCode`: not valid UTF-8"),
        get("percent-encoded invalid UTF-8 in a statistics bound", "/v1/operations/statistics?from=%C3%28&to=2026-01-01")
            .refused("query parameter `from`: not valid UTF-8"),
        get("invalid UTF-8 in the raw query string", "/v1/executions")
            .raw_target(b"/v1/executions?jobKey=caf\xe9".to_vec())
            .refused_by_http(StatusCode::BAD_REQUEST),
        get("invalid UTF-8 in the raw path", "/v1/executions")
            .raw_target(b"/v1/executions/\xff\xfe".to_vec())
            .refused_by_http(StatusCode::BAD_REQUEST),
        get("percent-encoded invalid UTF-8 in a path id", "/v1/executions/%FF%FE")
            .refused("invalid path"),
        // NUL: plain data in free text, refused where a name or key is expected.
        post("a NUL byte in a job key", "/v1/executions", json!({"jobKey": "a\u{0}b"}))
            .refused("`jobKey`: must not hold control characters"),
        post("a NUL byte in an emitterName", "/v1/data-factory/log", json!({"message": "m", "emitterName": "a\u{0}", "eventCorrelationId": "c"}))
            .header("cid", "hostile-cid")
            .refused("`emitterName`: must not hold control characters"),
        post("a NUL byte in an audit type", "/v1/audit_logs", audit_body().tap(|body| body["type"] = json!("a\u{0}b")))
            .refused("`type`: must not hold control characters"),
        post("a NUL byte in an audit id", "/v1/audit_logs", audit_body().tap(|body| body["id"] = json!("a\u{0}b")))
            .refused("`id`: may hold only visible ASCII characters"),
        post("a NUL byte in a scope id", "/api/v1/OperatingLogs", json!({"operationType": "InputData", "activityType": "Application|Begin", "scopeId": "a\u{0}"}))
            .refused("`scopeId`: must not hold control characters"),
        post("a NUL byte in a key name", "/v1/keys", json!({"permissions": ["JOBS_READ"], "name": "a\u{0}"}))
            .refused("`name`: must not hold control characters"),
        post("a NUL byte in a lineage run id", "/api/v1/lineage", lineage_body("a\u{0}b", "ns", "job"))
            .refused("run.runId: may hold only visible ASCII"),
        get("a NUL byte in a query value", "/v1/executions?jobKey=a%00b")
            .refused("query parameter `jobKey`: must not hold control characters"),
        get("a NUL byte in an account filter", "/v1/retention?account=a%00")
            .refused("query parameter `account`"),
        post("a raw NUL byte inside a JSON string", "/v1/executions", Value::Null)
            .raw_body("application/json", b"{\"jobKey\": \"a\x00b\"}".to_vec())
            .refused("body is not valid JSON: control character"),
        post(
            "a NUL byte in a log message (plain data)",
            "/v1/data-factory/log",
            json!({"message": "before\u{0}after", "emitterName": "e", "eventCorrelationId": "c"}),
        )
        .header("cid", "hostile-nul-cid")
        .stored(
            StatusCode::CREATED,
            "/v1/executions/{/jobInstanceId}/logs?order=desc&limit=1",
            vec![json!("before\u{0}after")],
        ),
        post(
            "a NUL byte in audit details (plain data)",
            "/v1/audit_logs",
            json!({"entityType": "item", "type": "t", "version": "1", "details": {"a\u{0}key": "a\u{0}value"}}),
        )
        .stored(
            StatusCode::CREATED,
            "/v1/audit_logs?size=1000",
            vec![json!({"a\u{0}key": "a\u{0}value"})],
        ),
        post(
            "a NUL byte in an item message (plain data)",
            "/api/v1/OperatingLogs",
            json!({"operationType": "InputData", "message": "a\u{0}b", "details": ["c\u{0}d"]}),
        )
        .stored(
            StatusCode::CREATED,
            "/api/v1/OperatingLogs/{/id}",
            vec![json!("a\u{0}b"), json!(["c\u{0}d"])],
        ),
        post(
            "a NUL byte in a find value",
            "/v1/audit_logs/find",
            json!({"type": "search", "field": "details.note", "value": "a\u{0}"}),
        )
        .served(StatusCode::OK),
    ]);
    rows
}

/// `tap`: change a value in place and hand it on, for table rows.
trait Tap: Sized {
    fn tap(mut self, change: impl FnOnce(&mut Self)) -> Self {
        change(&mut self);
        self
    }
}

impl Tap for Value {}

fn find_rows() -> Vec<Row> {
    let find = "/v1/audit_logs/find";
    let eq = |field: &str, value: Value| json!({"type": "eq", "field": field, "value": value});
    let many = |count: usize| json!({"type": "or", "queries": (0..count).map(|n| eq("type", json!(format!("t{n}")))).collect::<Vec<_>>()});
    let in_list = |field: &str, count: usize| json!({"type": "in", "field": field, "value": (0..count).map(|n| json!(format!("v{n}"))).collect::<Vec<_>>()});
    // The biggest query the limits allow: 199 `in` tests of 100 values each, all on
    // details paths, under one `and` (each becomes a condition SQL narrows with).
    let widest = json!({"type": "and", "queries": (0..199).map(|n| in_list(&format!("details.k{n}"), 100)).collect::<Vec<_>>()});
    let widest_or = json!({"type": "or", "queries": (0..199).map(|n| in_list(&format!("details.k{n}"), 100)).collect::<Vec<_>>()});
    let mut rows = vec![
        post("an `in` list of 101 values", find, in_list("type", 101))
            .refused("at `value`: holds more than 100 values"),
        post(
            "an `in` list of 100,000 values",
            find,
            in_list("details.k", 100_000),
        )
        .refused("at `value`: holds more than 100 values"),
        post("201 conditions", find, many(200)).refused("the query holds more than 200 nodes"),
        post("100,000 conditions", find, many(100_000))
            .refused("the query holds more than 200 nodes"),
        post("200 nodes (the limit)", find, many(199)).served(StatusCode::OK),
        post(
            "199 `in` lists of 100 values on details paths, all required",
            find,
            widest,
        )
        .served(StatusCode::OK),
        post(
            "199 `in` lists of 100 values on details paths, any",
            find,
            widest_or,
        )
        .served(StatusCode::OK),
        post(
            "a field path of 8 KiB",
            find,
            eq(&format!("details.{}", "a".repeat(8 * 1024)), json!("x")),
        )
        .refused("at `field`: is longer than 4096 bytes"),
        post(
            "a field path of 4,000 keys",
            find,
            eq(&format!("details{}", ".a".repeat(4000)), json!("x")),
        )
        .refused("at `field`: is longer than 4096 bytes"),
        post(
            "a field path of 2,000 keys (within the limit)",
            find,
            eq(&format!("details{}", ".a".repeat(2000)), json!("x")),
        )
        .served(StatusCode::OK),
        post(
            "a value of 4,097 bytes",
            find,
            eq("details.note", json!("a".repeat(4097))),
        )
        .refused("at `value`: is longer than 4096 bytes"),
        post(
            "a field that is SQL",
            find,
            eq("id; DROP TABLE audit_entries", json!("x")),
        )
        .refused("at `field`: unknown field `id; DROP TABLE audit_entries`"),
        post(
            "a type that is SQL",
            find,
            json!({"type": "eq' OR '1'='1", "field": "type", "value": "x"}),
        )
        .refused("unknown operator"),
        post(
            "a key that is SQL",
            find,
            json!({"type": "eq", "field": "type", "value": "x", "1=1; --": true}),
        )
        .refused("unknown key `1=1; --`"),
    ];
    // Values the store might hand to LIKE, GLOB or a regex engine: each must match only
    // entries holding it literally. The fixture has one entry noted `100%_done` and one
    // `plain`; the rows below count what each finds.
    for (operator, value, found) in [
        ("search", "%", 1),
        ("search", "_", 1),
        ("search", "%_", 1),
        ("startsWith", "%", 0),
        ("startsWith", "_", 0),
        ("search", "*", 0),
        ("search", ".*", 0),
        ("search", "[a-z]", 0),
        ("search", "(a+)+$", 0),
        ("search", "\\", 0),
        ("search", "' OR '1'='1", 0),
        ("eq", "%", 0),
        ("eq", "' OR 1=1 --", 0),
        ("startsWith", "100%", 1),
    ] {
        let query = json!({"type": operator, "field": "details.note", "value": value});
        rows.push(
            post(
                format!("a {operator} for {value:?} matches it literally"),
                find,
                query,
            )
            .finds(found),
        );
    }
    for (field, value) in [
        ("details.x' OR '1'='1", json!("x")),
        ("details.\"; DROP TABLE audit_terms; --", json!(1)),
        ("entityType", json!(SQL[0])),
        ("id", json!(SQL[1])),
        ("version", json!(SQL[2])),
    ] {
        rows.push(post(format!("SQL in a find on {field}"), find, eq(field, value)).finds(0));
    }
    rows
}

fn sql_rows(f: &Fixture) -> Vec<Row> {
    let logs = format!("/v1/executions/{}/logs", f.run);
    let mut rows = Vec::new();
    for (index, sql) in SQL.iter().enumerate() {
        let sql = *sql;
        rows.extend([
            post(
                format!("SQL in every Data Factory field: {sql}"),
                "/v1/data-factory/log",
                json!({"message": sql, "emitterName": sql, "eventCorrelationId": sql}),
            )
            .header("cid", f.run_cid.clone())
            .stored(
                StatusCode::CREATED,
                format!("/v1/executions/{}/logs?order=desc&limit=1", f.run),
                vec![json!(sql)],
            ),
            post(
                format!("SQL in every log line field: {sql}"),
                &logs,
                json!([{"message": sql, "emitterName": sql, "eventCorrelationId": sql,
                        "attributes": {sql: sql}}]),
            )
            .read_back(
                StatusCode::CREATED,
                format!("/v1/executions/{}/logs?order=desc&limit=1", f.run),
                vec![json!({sql: sql})],
            ),
            post(
                format!("SQL in every launch field: {sql}"),
                "/v1/executions",
                json!({"jobKey": format!("{sql}{index}"), "jobTitle": sql, "systemJobType": sql,
                       "pipelineId": sql, "jobPeriodicity": [sql], "input": {sql: sql}}),
            )
            .stored(
                StatusCode::CREATED,
                "/v1/executions/{/id}",
                vec![json!(format!("{sql}{index}")), json!([sql])],
            ),
            post(
                format!("SQL in every audit field: {sql}"),
                "/v1/audit_logs",
                json!({"entityType": sql, "type": sql, "version": sql.get(..32).unwrap_or(sql),
                       "details": {sql: sql, "nested": {sql: [sql]}}}),
            )
            .stored(
                StatusCode::CREATED,
                "/v1/audit_logs?size=1000",
                vec![json!({sql: sql, "nested": {sql: [sql]}})],
            ),
            post(
                format!("SQL in every operating item text: {sql}"),
                "/api/v1/OperatingLogs",
                json!({"operationType": "ConsumeData", "activityType": "Application|Begin",
                       "scopeId": sql, "message": sql, "details": [sql], "source": sql,
                       "customCategory": sql, "customFields": [{"key": sql, "value": sql}]}),
            )
            .stored(
                StatusCode::CREATED,
                "/api/v1/OperatingLogs/{/id}",
                vec![json!([sql]), json!([{"key": sql, "value": sql}])],
            ),
            post(
                format!("SQL in a key's name: {sql}"),
                "/v1/keys",
                json!({"permissions": ["JOBS_READ"], "name": sql, "rateLimit": 0}),
            )
            .stored(StatusCode::CREATED, "/v1/keys?limit=1000", vec![json!(sql)]),
            post(
                format!("SQL in a lineage job: {sql}"),
                "/api/v1/lineage",
                lineage_body(&format!("lineage-run-{index}"), sql, sql),
            )
            .stored(
                StatusCode::CREATED,
                "/v1/executions/{/id}",
                vec![json!(format!("{sql}/{sql}"))],
            ),
            post(
                format!("SQL in a claim's job key: {sql}"),
                "/v1/executions/claim",
                json!({"jobKey": sql}),
            )
            .served(StatusCode::NO_CONTENT),
        ]);
        // Query parameters: plain data where any text is valid, refused where not.
        let q = encode(sql);
        rows.extend([
            get(
                format!("SQL as a jobKey filter: {sql}"),
                format!("/v1/executions?jobKey={q}"),
            )
            .served(StatusCode::OK),
            get(
                format!("SQL as an agentCode filter: {sql}"),
                format!("/api/v1/OperatingLogs?agentCode={q}"),
            )
            .served(StatusCode::OK),
            get(
                format!("SQL as a status filter: {sql}"),
                format!("/v1/executions?status={q}"),
            )
            .refused("query parameter `status`"),
            get(
                format!("SQL as a cursor: {sql}"),
                format!("/v1/executions?cursor={q}"),
            )
            .refused("query parameter `cursor`"),
            get(
                format!("SQL as a log cursor: {sql}"),
                format!("{logs}?cursor={q}"),
            )
            .refused("query parameter `cursor`"),
            get(
                format!("SQL as an order: {sql}"),
                format!("{logs}?order={q}"),
            )
            .refused("query parameter `order`"),
            get(
                format!("SQL as a severity filter: {sql}"),
                format!("{logs}?severity={q}"),
            )
            .refused("query parameter `severity`"),
            get(
                format!("SQL as a from bound: {sql}"),
                format!("{logs}?from={q}"),
            )
            .refused("query parameter `from`"),
            get(
                format!("SQL as a Talend order: {sql}"),
                format!("/monitoring/executions/{}/logs?order={q}", f.run),
            )
            .refused("query parameter `order`"),
            row(
                format!("SQL as an export format: {sql}"),
                Method::POST,
                format!("/monitoring/executions/{}/logs?fileFormat={q}", f.run),
            )
            .refused("query parameter `fileFormat`"),
            row(
                format!("SQL as newFileName: {sql}"),
                Method::POST,
                format!("/monitoring/executions/{}/logs?newFileName={q}", f.run),
            )
            .refused("query parameter `newFileName`"),
            get(
                format!("SQL as an account: {sql}"),
                format!("/v1/retention?account={q}"),
            )
            .refused("query parameter `account`"),
            get(
                format!("SQL as a keys account: {sql}"),
                format!("/v1/keys?account={q}"),
            )
            .refused("query parameter `account`"),
            get(
                format!("SQL as an operationScope: {sql}"),
                format!("/api/v1/OperatingLogs?operationScope={q}"),
            )
            .refused("query parameter `operationScope`"),
            get(
                format!("SQL as an operationId: {sql}"),
                format!("/api/v1/OperatingLogs?operationId={q}"),
            )
            .refused("query parameter `operationId`"),
            get(
                format!("SQL as a severityLevel: {sql}"),
                format!("/api/v1/OperatingLogs?severityLevel={q}"),
            )
            .refused("query parameter `severityLevel`"),
            get(
                format!("SQL as includeSystemLevel: {sql}"),
                format!("/api/v1/OperatingLogs?includeSystemLevel={q}"),
            )
            .refused("query parameter `includeSystemLevel`"),
            get(
                format!("SQL as a parameter name: {sql}"),
                format!("/api/v1/OperatingLogs?{q}=1"),
            )
            .served(StatusCode::OK),
            get(
                format!("SQL as an operationType: {sql}"),
                format!(
                    "/v1/operations/statistics?from=2026-01-01&to=2026-02-01&operationType={q}"
                ),
            )
            .refused("query parameter `operationType`"),
            get(
                format!("SQL as a chart format: {sql}"),
                format!("/v1/operations/{}/gantt?format={q}", FOREIGN_UUIDS[0]),
            )
            .refused("query parameter `format`"),
            get(
                format!("SQL as an audit page: {sql}"),
                format!("/v1/audit_logs?page={q}"),
            )
            .refused("query parameter `page`"),
            get(
                format!("SQL as a tail: {sql}"),
                format!("/v1/executions/{}/logs/stream?tail={q}", f.ended),
            )
            .refused("query parameter `tail`"),
            get(
                format!("SQL in a path id: {sql}"),
                format!("/v1/executions/{q}"),
            )
            .refused("execution ID is not a UUID"),
            get(
                format!("SQL as a Talend startTime: {sql}"),
                format!("/monitoring/executions/{}/logs?startTime={q}", f.run),
            )
            .refused("query parameter `startTime`"),
            get(
                format!("SQL as createdFrom: {sql}"),
                format!("/api/v1/OperatingLogs?createdFrom={q}"),
            )
            .refused("query parameter `createdFrom`"),
            get(
                format!("SQL as a statistics bound: {sql}"),
                format!("/v1/operations/statistics?from={q}&to=2026-01-01"),
            )
            .refused("query parameter `from`"),
            get(
                format!("SQL as a keys cursor: {sql}"),
                format!("/v1/keys?cursor={q}"),
            )
            .refused("query parameter `cursor`"),
            get(
                format!("SQL as an operations cursor: {sql}"),
                format!("/v1/operations?cursor={q}"),
            )
            .refused("query parameter `cursor`"),
            get(
                format!("SQL as the text a log read looks for: {sql}"),
                format!("/v1/executions/{}/logs?contains={q}", f.ended),
            )
            .served(StatusCode::OK),
            get(
                format!("SQL as a log read's afterSeq: {sql}"),
                format!("/v1/executions/{}/logs?afterSeq={q}", f.ended),
            )
            .refused("query parameter `afterSeq`"),
            get(
                format!("SQL as a log read's render: {sql}"),
                format!("/v1/executions/{}/logs?render={q}", f.ended),
            )
            .refused("query parameter `render`"),
            get(
                format!("SQL as a live tail cursor: {sql}"),
                format!("/v1/executions/{}/logs/stream?cursor={q}", f.ended),
            )
            .refused("query parameter `cursor`"),
            post(
                format!("SQL as a find's size: {sql}"),
                format!("/v1/audit_logs/find?size={q}"),
                Value::Null,
            )
            .refused("query parameter `size`"),
            get(
                format!("SQL as a Talend count: {sql}"),
                format!("/monitoring/executions/{}/logs?count={q}", f.run),
            )
            .refused("query parameter `count`"),
            get(
                format!("SQL as an operating offset: {sql}"),
                format!("/api/v1/OperatingLogs?offset={q}"),
            )
            .refused("query parameter `offset`"),
        ]);
        // Fields that take one of a few words: SQL is not one of them.
        rows.extend([
            post(
                format!("SQL as a messageType: {sql}"),
                "/v1/data-factory/log",
                data_factory_body().tap(|body| body["messageType"] = json!(sql)),
            )
            .header("cid", "hostile-cid")
            .refused("`messageType`: unknown messageType"),
            post(
                format!("SQL as an actionOrigin: {sql}"),
                "/v1/executions",
                json!({"jobKey": "j", "actionOrigin": sql}),
            )
            .refused("`actionOrigin`"),
            post(
                format!("SQL as a jobType: {sql}"),
                "/v1/executions",
                json!({"jobKey": "j", "jobType": sql}),
            )
            .refused("`jobType`"),
            post(
                format!("SQL as an item severity: {sql}"),
                "/api/v1/OperatingLogs",
                item_body().tap(|body| body["severity"] = json!(sql)),
            )
            .refused("`severity`"),
            post(
                format!("SQL as an activityType: {sql}"),
                "/api/v1/OperatingLogs",
                item_body().tap(|body| body["activityType"] = json!(sql)),
            )
            .refused("`activityType`"),
            post(
                format!("SQL as a timestamp: {sql}"),
                &logs,
                json!([{"message": "m", "timestamp": sql}]),
            )
            .refused("`[0].timestamp`"),
            post(
                format!("SQL as a waitSeconds: {sql}"),
                "/v1/executions/claim",
                json!({"jobKey": "j", "waitSeconds": sql}),
            )
            .refused("`waitSeconds`"),
            post(
                format!("SQL as an audit timeGenerated: {sql}"),
                "/v1/audit_logs",
                audit_body().tap(|body| body["timeGenerated"] = json!(sql)),
            )
            .refused("`timeGenerated`"),
        ]);
    }
    rows.extend([
        post("SQL as a cid with no spaces", "/v1/data-factory/log", data_factory_body())
            .header("cid", SQL_NO_SPACES)
            .stored(
                StatusCode::CREATED,
                "/v1/executions/{/jobInstanceId}",
                vec![json!(SQL_NO_SPACES)],
            ),
        post(
            "SQL as an audit id with no spaces",
            "/v1/audit_logs",
            audit_body().tap(|body| body["id"] = json!(SQL_NO_SPACES)),
        )
        .stored(
            StatusCode::CREATED,
            "/v1/audit_logs?size=1000",
            vec![json!(SQL_NO_SPACES)],
        ),
        post(
            "SQL as a lineage run id with no spaces",
            "/api/v1/lineage",
            lineage_body(&format!("{SQL_NO_SPACES}2"), "ns", "job"),
        )
        .stored(
            StatusCode::CREATED,
            "/v1/executions/{/id}",
            vec![json!(format!("{SQL_NO_SPACES}2"))],
        ),
        post("SQL as an account name", "/v1/keys", json!({"permissions": ["JOBS_READ"], "account": SQL[0]}))
            .refused("`account`: may hold only ASCII letters"),
        post("SQL as a permission", "/v1/keys", json!({"permissions": [SQL[1]]}))
            .refused("`permissions"),
        post("SQL as a severity", &logs, json!([{"message": "m", "severity": SQL[0]}]))
            .refused("`[0].severity`: unknown severity"),
        post("SQL as a final status", format!("/v1/executions/{}/end", f.queued), json!({"status": SQL[0]}))
            .refused("`status`"),
        post("SQL as an operation type", "/api/v1/OperatingLogs", json!({"operationType": SQL[0]}))
            .refused("`operationType`"),
        post("SQL as a lineage event type", "/api/v1/lineage", lineage_body("run-3", "ns", "job").tap(|body| body["eventType"] = json!(SQL[0])))
            .refused("eventType"),
        post(
            "Markdown with a script as a log message",
            "/v1/data-factory/log",
            json!({"message": "<script>alert(1)</script> [x](javascript:alert(1)) ![i](http://evil/x.png)",
                   "messageType": "MARKDOWN", "emitterName": "<img src=x onerror=alert(1)>", "eventCorrelationId": "c"}),
        )
        .header("cid", f.run_cid.clone())
        .stored(
            StatusCode::CREATED,
            format!("/v1/executions/{}/logs?order=desc&limit=1", f.run),
            vec![
                json!("<script>alert(1)</script> [x](javascript:alert(1)) ![i](http://evil/x.png)"),
                json!("<img src=x onerror=alert(1)>"),
            ],
        ),
    ]);
    rows
}

fn path_rows(f: &Fixture) -> Vec<Row> {
    let key = UrlSigningKey::from_bytes(LINK_KEY);
    let later = now_seconds() + 3600;
    let base = format!("/v1/exports/{}", f.token);
    let real = format!("{base}/{}", f.file_name);
    let good = signed(&real, &real, later, &key);
    // A name signed as the server decodes it: the signature holds, only the name is wrong.
    let named = |encoded: &str, decoded: &str| {
        signed(
            &format!("{base}/{encoded}"),
            &format!("{base}/{decoded}"),
            later,
            &key,
        )
    };
    let tampered_signature = {
        let mut link = good.clone();
        let last = link.pop().unwrap();
        link.push(if last == '0' { '1' } else { '0' });
        link
    };
    let mut rows = vec![
        get("a download link as handed out", good.clone())
            .keyless()
            .served(StatusCode::OK),
        get(
            "`../` in the file name, signed",
            named("..%2F..%2Fpipelog.db", "../../pipelog.db"),
        )
        .keyless()
        .refused_with(StatusCode::NOT_FOUND, "the export is no longer kept"),
        get(
            "`%2e%2e%2f` in the file name, signed",
            named("%2e%2e%2f%2e%2e%2fpipelog.db", "../../pipelog.db"),
        )
        .keyless()
        .refused_with(StatusCode::NOT_FOUND, "the export is no longer kept"),
        get(
            "an absolute path as the file name, signed",
            named("%2Fetc%2Fpasswd", "/etc/passwd"),
        )
        .keyless()
        .refused_with(StatusCode::NOT_FOUND, "the export is no longer kept"),
        get(
            "a NUL byte in the file name, signed",
            named(
                &format!("{}%00.sh", f.file_name),
                &format!("{}\0.sh", f.file_name),
            ),
        )
        .keyless()
        .refused_with(StatusCode::NOT_FOUND, "the export is no longer kept"),
        get("`..` as the token, signed", "/")
            .keyless()
            .raw_target(signed(
                "/v1/exports/../pipelog.db",
                "/v1/exports/../pipelog.db",
                later,
                &key,
            ))
            .refused_with(StatusCode::NOT_FOUND, "the export is no longer kept"),
        get("`%2e%2e` as the token, signed", "/")
            .keyless()
            .raw_target(signed(
                "/v1/exports/%2e%2e/pipelog.db",
                "/v1/exports/../pipelog.db",
                later,
                &key,
            ))
            .refused_with(StatusCode::NOT_FOUND, "the export is no longer kept"),
        get("`../` segments in the raw path", "/")
            .keyless()
            .raw_target(format!(
                "{base}/../../pipelog.db?expires={later}&signature=00"
            ))
            .refused_with(StatusCode::NOT_FOUND, "no route"),
        get("`../` segments up from the exports route", "/")
            .keyless()
            .raw_target("/v1/exports/../../../../etc/passwd")
            .refused_with(StatusCode::NOT_FOUND, "no route"),
        get(
            "`%2e%2e%2f` in the file name, unsigned",
            format!("{base}/%2e%2e%2fpipelog.db"),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not signed"),
        get(
            "a backslash path in the file name, signed",
            named("..%5C..%5Cpipelog.db", "..\\..\\pipelog.db"),
        )
        .keyless()
        .refused_with(StatusCode::NOT_FOUND, "the export is no longer kept"),
        get(
            "invalid UTF-8 in the file name",
            format!("{base}/%FF.log?expires={later}&signature=00"),
        )
        .keyless()
        .refused("invalid path"),
        get("a tampered signature", tampered_signature)
            .keyless()
            .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "a tampered expiry",
            good.replace(
                &format!("expires={later}"),
                &format!("expires={}", later + 1),
            ),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "another file name under a real signature",
            good.replace(&f.file_name, "other.log"),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "another token under a real signature",
            good.replace(&f.token, FOREIGN_UUIDS[0]),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "a link signed by another key",
            signed(&real, &real, later, &UrlSigningKey::from_bytes([8; 32])),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "an expired link",
            signed(&real, &real, now_seconds() - 1, &key),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link has expired"),
        get("a link expiring at -1", signed(&real, &real, -1, &key))
            .keyless()
            .refused_with(StatusCode::FORBIDDEN, "the download link has expired"),
        get(
            "a link expiring at i64::MIN",
            signed(&real, &real, i64::MIN, &key),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link has expired"),
        get("an unsigned link", real.clone())
            .keyless()
            .refused_with(StatusCode::FORBIDDEN, "the download link is not signed"),
        get(
            "a signature that is not hex",
            format!("{real}?expires={later}&signature={}", "zz".repeat(32)),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "a signature of odd length",
            format!("{real}?expires={later}&signature=abc"),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "a signature of 32 KiB",
            format!(
                "{real}?expires={later}&signature={}",
                "ab".repeat(16 * 1024)
            ),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "a signature that is not ASCII",
            format!("{real}?expires={later}&signature=%C3%A9%C3%A9"),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
        get(
            "SQL as a signature",
            format!("{real}?expires={later}&signature={}", encode(SQL[1])),
        )
        .keyless()
        .refused_with(StatusCode::FORBIDDEN, "the download link is not valid"),
    ];
    for expires in ["abc", TWO_TO_THE_64, "1.5", "9223372036854775808", ""] {
        let signature = key.sign(&real, 0);
        rows.push(
            get(
                format!("an expiry of {expires:?}"),
                format!("{real}?expires={expires}&signature={signature}"),
            )
            .keyless()
            .refused("query parameter `expires`"),
        );
    }
    rows
}

fn number_rows(f: &Fixture) -> Vec<Row> {
    let talend = format!("/monitoring/executions/{}/logs", f.run);
    let logs = format!("/v1/executions/{}/logs", f.run);
    let stream = format!("/v1/executions/{}/logs/stream", f.ended);
    let mut rows = Vec::new();
    // (path, parameter, the largest accepted value, the needle)
    let bounded: &[(&str, &str, u64)] = &[
        (&talend, "count", 200),
        ("/v1/executions", "limit", 1000),
        (&logs, "limit", 1000),
        ("/v1/audit_logs", "size", 1000),
        ("/v1/audit_logs", "page", 1_000_000),
        ("/v1/keys", "limit", 1000),
    ];
    let needle = |parameter: &str| -> &'static str {
        match parameter {
            "count" => "query parameter `count`",
            "limit" => "query parameter `limit`",
            "size" => "query parameter `size`",
            "page" => "query parameter `page`",
            _ => unreachable!(),
        }
    };
    for (path, parameter, max) in bounded {
        let over = (max + 1).to_string();
        for value in NOT_NUMBERS
            .iter()
            .copied()
            .chain([over.as_str(), "99999999999"])
        {
            rows.push(
                get(
                    format!("{parameter}={value:?}"),
                    format!("{path}?{parameter}={}", encode(value)),
                )
                .refused(needle(parameter)),
            );
        }
        rows.push(
            get(
                format!("{parameter} at its maximum"),
                format!("{path}?{parameter}={max}"),
            )
            .served(StatusCode::OK),
        );
    }
    rows.push(get("size=0", "/v1/audit_logs?size=0").refused("query parameter `size`"));
    rows.push(get("count=0", format!("{talend}?count=0")).refused("query parameter `count`"));
    for (parameter, max) in [("limit", 1000), ("offset", 1_000_000)] {
        let over = (max + 1).to_string();
        for value in ["-1", "abc", TWO_TO_THE_64, "1.5", "1e3", over.as_str()] {
            rows.push(
                get(
                    format!("operating {parameter}={value:?}"),
                    format!("/api/v1/OperatingLogs?{parameter}={}", encode(value)),
                )
                .refused(if parameter == "limit" {
                    "query parameter `limit`"
                } else {
                    "query parameter `offset`"
                }),
            );
        }
    }
    rows.push(
        get(
            "a parameter given twice",
            "/api/v1/OperatingLogs?limit=1&LIMIT=2",
        )
        .refused("query parameter `LIMIT`: given more than once"),
    );
    for value in ["-1", "abc", TWO_TO_THE_64, "1.5"] {
        rows.push(
            get(
                format!("startIndex={value:?}"),
                format!("{talend}?startIndex={value}"),
            )
            .refused("query parameter `startIndex`"),
        );
        rows.push(
            get(format!("tail={value:?}"), format!("{stream}?tail={value}"))
                .refused("query parameter `tail`"),
        );
    }
    for value in [
        "18446744073709551615",
        "9223372036854775808",
        "9223372036854775807",
    ] {
        rows.push(
            get(
                format!("startIndex={value} (past the end)"),
                format!("{talend}?startIndex={value}"),
            )
            .served(StatusCode::OK),
        );
        rows.push(
            get(format!("tail={value}"), format!("{stream}?tail={value}")).served(StatusCode::OK),
        );
    }
    // Cursors are opaque, but a client can forge one; a seq past any line reads nothing.
    for plain in [
        "log:asc:18446744073709551615",
        "log:desc:18446744073709551615",
        "log:asc:9223372036854775808",
        "log:desc:0",
    ] {
        rows.push(
            get(
                format!("a forged cursor {plain}"),
                format!("{logs}?cursor={}", cursor(plain)),
            )
            .served(StatusCode::OK),
        );
    }
    rows.push(
        get(
            "a cursor of a seq past 2^64",
            format!(
                "{logs}?cursor={}",
                cursor(&format!("log:asc:{TWO_TO_THE_64}"))
            ),
        )
        .refused("query parameter `cursor`"),
    );
    for value in [
        json!(31),
        json!(-1),
        json!(u64::MAX),
        json!(1.5),
        json!("5"),
        json!(1e300),
    ] {
        rows.push(
            post(
                format!("waitSeconds={value}"),
                "/v1/executions/claim",
                json!({"jobKey": "j", "waitSeconds": value}),
            )
            .refused("`waitSeconds`"),
        );
    }
    for value in [
        json!(0),
        json!(36_501),
        json!(-1),
        json!(4_294_967_296_u64),
        json!(1.5),
        json!("30"),
    ] {
        rows.push(
            row(
                format!("executionLogsDays={value}"),
                Method::PUT,
                "/v1/retention",
            )
            .json(json!({"executionLogsDays": value}))
            .refused("`executionLogsDays`"),
        );
    }
    for value in [json!(-1), json!(4_294_967_296_u64), json!(1.5), json!("50")] {
        rows.push(
            post(
                format!("rateLimit={value}"),
                "/v1/keys",
                json!({"permissions": ["JOBS_READ"], "rateLimit": value}),
            )
            .refused("`rateLimit`"),
        );
    }
    for value in [
        json!(-1),
        json!(TWO_TO_THE_64.parse::<f64>().unwrap()),
        json!("1"),
    ] {
        rows.push(
            post(
                format!("an audit digest's entries={value}"),
                "/v1/audit_logs/verify",
                json!({"accountId": "1", "entries": value, "headHash": "00", "issuedAt": "2026-01-01T00:00:00Z", "algorithm": "Ed25519", "signature": ""}),
            )
            .refused("`entries`"),
        );
    }
    rows
}

fn date_rows(f: &Fixture) -> Vec<Row> {
    let talend = format!("/monitoring/executions/{}/logs", f.run);
    let logs = format!("/v1/executions/{}/logs", f.run);
    let mut rows = Vec::new();
    for date in BAD_DATES {
        let q = encode(date);
        rows.extend([
            get(format!("from={date}"), format!("/v1/executions?from={q}"))
                .refused("query parameter `from`"),
            get(format!("to={date}"), format!("{logs}?to={q}")).refused("query parameter `to`"),
            get(
                format!("startTime={date}"),
                format!("{talend}?startTime={q}"),
            )
            .refused("query parameter `startTime`"),
            row(
                format!("an export's endTime={date}"),
                Method::POST,
                format!("{talend}?endTime={q}"),
            )
            .refused("query parameter `endTime`"),
            get(
                format!("createdFrom={date}"),
                format!("/api/v1/OperatingLogs?createdFrom={q}"),
            )
            .refused("query parameter `createdFrom`"),
            get(
                format!("statistics from={date}"),
                format!("/v1/operations/statistics?from={q}&to=2026-01-01"),
            )
            .refused("query parameter `from`"),
            post(
                format!("a line's timestamp {date}"),
                "/v1/data-factory/log",
                data_factory_body().tap(|body| body["timestamp"] = json!(date)),
            )
            .header("cid", "hostile-cid")
            .refused("`timestamp`"),
            post(
                format!("an audit timeGenerated {date}"),
                "/v1/audit_logs",
                audit_body().tap(|body| body["timeGenerated"] = json!(date)),
            )
            .refused("`timeGenerated`"),
            post(
                format!("an item's utcTimestamp {date}"),
                "/api/v1/OperatingLogs",
                item_body().tap(|body| body["utcTimestamp"] = json!(date)),
            )
            .refused("`utcTimestamp`"),
            post(
                format!("a find on timeGenerated {date}"),
                "/v1/audit_logs/find",
                json!({"type": "greater", "field": "timeGenerated", "value": date}),
            )
            .refused("at `value`"),
        ]);
    }
    // The ends of the range pipelog shows (years -9999 to 9999) work as bounds.
    for (bound, date) in [("from", FIRST_INSTANT), ("to", LAST_INSTANT)] {
        let q = encode(date);
        rows.extend([
            get(
                format!("{bound}={date}"),
                format!("/v1/executions?{bound}={q}"),
            )
            .served(StatusCode::OK),
            get(format!("log {bound}={date}"), format!("{logs}?{bound}={q}"))
                .served(StatusCode::OK),
            get(
                format!("endTime={date}"),
                format!("{talend}?endTime={q}&startTime={q}"),
            )
            .served(StatusCode::OK),
            get(
                format!("createdTo={date}"),
                format!("/api/v1/OperatingLogs?createdTo={q}"),
            )
            .served(StatusCode::OK),
        ]);
    }
    rows.push(
        get(
            "statistics from a period's end to its start",
            "/v1/operations/statistics?from=2026-02-01&to=2026-01-01",
        )
        .refused("query parameter `to`"),
    );
    rows.push(
        get(
            "statistics over the whole range of years",
            format!(
                "/v1/operations/statistics?from={}&to={}",
                encode(FIRST_INSTANT),
                encode(LAST_INSTANT)
            ),
        )
        .served(StatusCode::OK),
    );
    rows.push(
        post(
            "a line's timestamp at year 9999 (plain data)",
            "/v1/data-factory/log",
            data_factory_body().tap(|body| body["timestamp"] = json!(LAST_INSTANT)),
        )
        .header("cid", f.run_cid.clone())
        .stored(
            StatusCode::CREATED,
            format!("/v1/executions/{}/logs?order=desc&limit=1", f.run),
            vec![json!(LAST_INSTANT)],
        ),
    );
    rows
}

fn uuid_rows(f: &Fixture) -> Vec<Row> {
    let mut rows = Vec::new();
    for bad in BAD_UUIDS {
        let p = encode(bad);
        rows.extend([
            get(
                format!("execution id {bad:?}"),
                format!("/v1/executions/{p}"),
            )
            .refused("execution ID is not a UUID"),
            get(
                format!("Talend execution id {bad:?}"),
                format!("/monitoring/executions/{p}/logs"),
            )
            .refused("execution ID is not a UUID"),
            row(
                format!("execution id {bad:?} to delete"),
                Method::DELETE,
                format!("/monitoring/executions/{p}/logs"),
            )
            .refused("execution ID is not a UUID"),
            get(
                format!("log execution id {bad:?}"),
                format!("/v1/executions/{p}/logs"),
            )
            .refused("execution ID is not a UUID"),
            post(
                format!("execution id {bad:?} to start"),
                format!("/v1/executions/{p}/start"),
                json!({}),
            )
            .refused("execution ID is not a UUID"),
            post(
                format!("execution id {bad:?} to end"),
                format!("/v1/executions/{p}/end"),
                json!({"status": "FAILED"}),
            )
            .refused("execution ID is not a UUID"),
            row(
                format!("key id {bad:?}"),
                Method::DELETE,
                format!("/v1/keys/{p}"),
            )
            .refused("key ID is not a UUID"),
            get(
                format!("item id {bad:?}"),
                format!("/api/v1/OperatingLogs/{p}"),
            )
            .refused_with(StatusCode::NOT_FOUND, "operating log item not found"),
            get(
                format!("operation id {bad:?} in a chart"),
                format!("/v1/operations/{p}/gantt"),
            )
            .refused_with(StatusCode::NOT_FOUND, "operation not found"),
            get(
                format!("operation id {bad:?} in statistics"),
                format!("/v1/operations/{p}/statistics"),
            )
            .refused_with(StatusCode::NOT_FOUND, "operation not found"),
            get(
                format!("operationId={bad:?}"),
                format!("/api/v1/OperatingLogs?operationId={p}"),
            )
            .refused("query parameter `operationId`: expected a GUID"),
            get(
                format!("sourceId={bad:?}"),
                format!("/api/v1/OperatingLogs?sourceId={p}"),
            )
            .refused("query parameter `sourceId`: expected a GUID"),
            get(
                format!("agentId={bad:?}"),
                format!("/api/v1/OperatingLogs?agentId={p}"),
            )
            .refused("query parameter `agentId`: expected a GUID"),
            get(
                format!("statistics sourceId={bad:?}"),
                format!("/v1/operations/statistics?from=2026-01-01&to=2026-02-01&sourceId={p}"),
            )
            .refused("query parameter `sourceId`"),
            post(
                format!("an item's operationId {bad:?}"),
                "/api/v1/OperatingLogs",
                item_body().tap(|body| body["operationId"] = json!(bad)),
            )
            .refused("`operationId`"),
            post(
                format!("an item's agentId {bad:?}"),
                "/api/v1/OperatingLogs",
                item_body().tap(|body| body["agentId"] = json!(bad)),
            )
            .refused("`agentId`"),
            post(
                format!("a key's agentId {bad:?}"),
                "/v1/keys",
                json!({"permissions": ["JOBS_READ"], "agent": {"agentId": bad}}),
            )
            .refused("`agent.agentId`"),
            post(
                format!("an export token {bad:?}"),
                format!("/monitoring/executions/{}/logs/status", f.run),
                Value::Null,
            )
            .raw_body("text/plain", bad.to_string())
            .refused("invalid body: expected the token"),
        ]);
    }
    for foreign in FOREIGN_UUIDS {
        rows.extend([
            get(
                format!("execution {foreign}"),
                format!("/v1/executions/{foreign}"),
            )
            .refused_with(StatusCode::NOT_FOUND, "not found"),
            get(
                format!("Talend execution {foreign}"),
                format!("/monitoring/executions/{foreign}/logs"),
            )
            .refused_with(StatusCode::NOT_FOUND, "not found"),
            row(
                format!("key {foreign}"),
                Method::DELETE,
                format!("/v1/keys/{foreign}"),
            )
            .refused_with(StatusCode::NOT_FOUND, "not found"),
            get(
                format!("item {foreign}"),
                format!("/api/v1/OperatingLogs/{foreign}"),
            )
            .refused_with(StatusCode::NOT_FOUND, "not found"),
            get(
                format!("operation {foreign}"),
                format!("/v1/operations/{foreign}/gantt"),
            )
            .refused_with(StatusCode::NOT_FOUND, "not found"),
            get(
                format!("operationId={foreign}"),
                format!("/api/v1/OperatingLogs?operationId={foreign}"),
            )
            .served(StatusCode::OK),
            post(
                format!("the export token {foreign}"),
                format!("/monitoring/executions/{}/logs/status", f.run),
                Value::Null,
            )
            .raw_body("text/plain", foreign.to_string())
            .refused_with(StatusCode::NOT_FOUND, "export not found"),
        ]);
    }
    rows.push(
        get(
            "an item id in braces",
            format!("/api/v1/OperatingLogs/%7B{}%7D", f.item),
        )
        .served(StatusCode::OK),
    );
    rows
}

/// Every row, for both servers.
fn table(f: &Fixture, small: &Fixture) -> Vec<Row> {
    let mut rows = body_limit_rows(small);
    rows.extend(header_rows(f));
    rows.extend(depth_rows(f));
    rows.extend(length_rows(f));
    rows.extend(encoding_rows(f));
    rows.extend(find_rows());
    rows.extend(sql_rows(f));
    rows.extend(path_rows(f));
    rows.extend(number_rows(f));
    rows.extend(date_rows(f));
    rows.extend(uuid_rows(f));
    rows
}

/// An answer, from reqwest or from a raw connection.
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

async fn send(app: &TestApp, key: &str, row: &Row) -> Result<Answer, String> {
    if row.raw {
        return send_raw(app, key, row).await;
    }
    let target = std::str::from_utf8(&row.target).map_err(|error| error.to_string())?;
    let mut request = app.client.request(row.method.clone(), app.url(target));
    let sets_key = row
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("x-api-key"));
    if row.keyed && !sets_key {
        request = request.header("x-api-key", key);
    }
    let sets_type = row
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    request = match &row.body {
        Body::None => request,
        Body::Json(value) if sets_type => request.body(value.to_string()),
        Body::Json(value) => request.json(value),
        Body::Raw(content_type, bytes) => {
            let request = if sets_type {
                request
            } else {
                request.header("content-type", *content_type)
            };
            request.body(bytes.clone())
        }
        Body::Chunked(content_type, bytes) => {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                bytes.chunks(512).map(|chunk| Ok(chunk.to_vec())).collect();
            request
                .header("content-type", *content_type)
                .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                    chunks,
                )))
        }
    };
    for (name, value) in &row.headers {
        let value = reqwest::header::HeaderValue::from_bytes(value)
            .map_err(|error| format!("cannot send header {name}: {error}"))?;
        request = request.header(name.as_str(), value);
    }
    let response = request.send().await.map_err(|error| format!("{error:?}"))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let bytes = response
        .bytes()
        .await
        .map_err(|error| format!("{error:?}"))?;
    Ok(Answer {
        status,
        content_type,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// Sends the row byte for byte on a new connection and reads the answer to its end.
async fn send_raw(app: &TestApp, key: &str, row: &Row) -> Result<Answer, String> {
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(|error| error.to_string())?;
    let (content_type, body) = match &row.body {
        Body::None => (None, Vec::new()),
        Body::Json(value) => (Some("application/json"), value.to_string().into_bytes()),
        Body::Raw(content_type, bytes) | Body::Chunked(content_type, bytes) => {
            (Some(*content_type), bytes.clone())
        }
    };
    let mut request = Vec::new();
    request.extend_from_slice(row.method.as_str().as_bytes());
    request.push(b' ');
    request.extend_from_slice(&row.target);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if row.keyed {
        request.extend_from_slice(format!("X-Api-Key: {key}\r\n").as_bytes());
    }
    if let Some(content_type) = content_type {
        request.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
    }
    request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    for (name, value) in &row.headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(&body);
    stream
        .write_all(&request)
        .await
        .map_err(|error| error.to_string())?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .map_err(|_| "no answer within 10 s".to_owned())?
        .map_err(|error| error.to_string())?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {}", brief(&text, 200)))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| format!("no status line: {}", brief(head, 200)))?;
    let header = |wanted: &str| {
        head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case(wanted)
                .then(|| value.trim().to_owned())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|value| value.contains("chunked")) {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Answer {
        status,
        content_type: header("content-type"),
        text: body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut plain = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        plain.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    plain
}

/// What the fixture's account holds, to compare before and after a refused write.
async fn snapshot(app: &TestApp, f: &Fixture) -> Vec<(String, Value)> {
    let paths = [
        "/v1/executions?limit=1000".to_owned(),
        format!("/v1/executions/{}/logs?limit=1000", f.run),
        format!("/v1/executions/{}/logs?limit=1000", f.queued),
        format!("/v1/executions/{}", f.queued),
        "/v1/audit_logs?size=1000".to_owned(),
        "/v1/audit_logs/verify".to_owned(),
        "/api/v1/OperatingLogs?includeSystemLevel=true&limit=1000".to_owned(),
        "/v1/keys?limit=1000".to_owned(),
        "/v1/retention".to_owned(),
    ];
    let mut views = Vec::new();
    for path in paths {
        let response = app.get(&path, &f.key).await;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let view = match status {
            StatusCode::OK => serde_json::from_str(&text).unwrap_or(Value::Null),
            _ => json!(format!("answered {status}: {text}")),
        };
        views.push((path, view));
    }
    views
}

/// Whether `value` equals `wanted` or holds it somewhere inside.
fn holds(value: &Value, wanted: &Value) -> bool {
    value == wanted
        || match value {
            Value::Array(items) => items.iter().any(|item| holds(item, wanted)),
            Value::Object(fields) => fields.values().any(|field| holds(field, wanted)),
            _ => false,
        }
}

/// `template` with each `{/pointer}` replaced by that string of `answer`.
fn fill(template: &str, answer: &Value) -> String {
    let mut filled = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{/") {
        filled.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        let pointer = &rest[start + 1..end];
        filled.push_str(
            answer
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("missing"),
        );
        rest = &rest[end + 1..];
    }
    filled.push_str(rest);
    filled
}

/// Checks one row's answer; the problems found.
async fn check(app: &TestApp, f: &Fixture, row: &Row, answer: &Answer) -> Vec<String> {
    let mut problems = Vec::new();
    let text = brief(&answer.text, 300);
    if answer.status.is_server_error() {
        problems.push(format!("answered {}: {text}", answer.status));
        return problems;
    }
    match &row.expect {
        Expect::Refused(status, needle) => {
            let body = answer.json();
            if answer.status != *status {
                problems.push(format!("answered {}, not {status}: {text}", answer.status));
            } else if answer.content_type.as_deref() != Some("application/json")
                || body["status"] != status.as_u16()
                || body["requestId"].as_str().is_none()
            {
                problems.push(format!("not pipelog's error body: {text}"));
            } else if !body["message"].as_str().unwrap_or("").contains(needle) {
                problems.push(format!("the message does not say {needle:?}: {text}"));
            }
        }
        Expect::RefusedByProtocol(status, needle) => {
            if answer.status != *status || !answer.text.contains(needle) {
                problems.push(format!(
                    "answered {}, not {status} saying {needle:?}: {text}",
                    answer.status
                ));
            }
        }
        Expect::RefusedByHttp(status) | Expect::Served(status) => {
            if answer.status != *status {
                problems.push(format!("answered {}, not {status}: {text}", answer.status));
            }
        }
        Expect::Finds(count) => {
            let found = answer.json()["data"].as_array().map(Vec::len);
            if answer.status != StatusCode::OK || found != Some(*count) {
                problems.push(format!(
                    "answered {} with {found:?} entries, not 200 with {count}: {text}",
                    answer.status
                ));
            }
        }
        Expect::Stored {
            status,
            read,
            values,
        }
        | Expect::ReadBack {
            status,
            read,
            values,
        } => {
            let echoes = matches!(row.expect, Expect::Stored { .. });
            if answer.status != *status {
                problems.push(format!("answered {}, not {status}: {text}", answer.status));
                return problems;
            }
            let path = fill(read, &answer.json());
            let stored = app.get(&path, &f.key).await;
            let stored_status = stored.status();
            let stored: Value = stored.json().await.unwrap_or(Value::Null);
            if stored_status != StatusCode::OK {
                problems.push(format!(
                    "reading {path} back answered {stored_status}: {stored}"
                ));
            }
            for value in values {
                if echoes && !holds(&answer.json(), value) {
                    problems.push(format!(
                        "the answer does not hold {} as sent: {text}",
                        brief(&value.to_string(), 100)
                    ));
                }
                if !holds(&stored, value) {
                    problems.push(format!(
                        "{path} does not hold {} as sent: {}",
                        brief(&value.to_string(), 100),
                        brief(&stored.to_string(), 300)
                    ));
                }
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_refused_clearly_or_stored_as_plain_data() {
    let app = TestApp::spawn().await;
    let small = TestApp::spawn_with(ServerConfig {
        max_body_bytes: SMALL_LIMIT,
        ..ServerConfig::default()
    })
    .await;
    let f = Fixture::make(&app).await;
    let small_f = Fixture::make(&small).await;
    let tables_before = app.tables().await;
    let rows = table(&f, &small_f);
    assert!(rows.len() > 400, "{} rows", rows.len());

    let mut failures = Vec::new();
    // Refusals first, so that they meet the fixture as it was made; each refused write is
    // checked against a snapshot of the account taken before it.
    let (refusals, acceptances): (Vec<&Row>, Vec<&Row>) = rows.iter().partition(|row| {
        matches!(
            row.expect,
            Expect::Refused(..) | Expect::RefusedByProtocol(..) | Expect::RefusedByHttp(_)
        )
    });
    let before = snapshot(&app, &f).await;
    let mut latest = [before.clone(), snapshot(&small, &small_f).await];
    for row in refusals.into_iter().chain(acceptances) {
        let (server, fixture, index) = match row.server {
            Server::Default => (&app, &f, 0),
            Server::SmallBodies => (&small, &small_f, 1),
        };
        let answer = match send(server, &fixture.key, row).await {
            Ok(answer) => answer,
            Err(error) => {
                failures.push(format!(
                    "{}: not sent or not answered: {error}",
                    row.describe()
                ));
                continue;
            }
        };
        for problem in check(server, fixture, row, &answer).await {
            failures.push(format!("{}: {problem}", row.describe()));
        }
        let refused = !matches!(
            row.expect,
            Expect::Served(_) | Expect::Stored { .. } | Expect::ReadBack { .. } | Expect::Finds(_)
        );
        if refused && row.writes() {
            let now = snapshot(server, fixture).await;
            for ((path, was), (_, is)) in latest[index].iter().zip(&now) {
                if was != is {
                    failures.push(format!(
                        "{}: a refused write changed {path}:\n  was {}\n  now {}",
                        row.describe(),
                        brief(&was.to_string(), 300),
                        brief(&is.to_string(), 300)
                    ));
                }
            }
            latest[index] = now;
        }
    }

    // Nothing was executed: the tables are all there, and every list still reads.
    assert_eq!(
        app.tables().await,
        tables_before,
        "the database's tables changed"
    );
    for expected in [
        "executions",
        "execution_logs",
        "audit_entries",
        "api_keys",
        "jobs",
    ] {
        assert!(tables_before.contains(expected), "{tables_before:?}");
    }
    let after = snapshot(&app, &f).await;
    assert_eq!(after.len(), before.len());
    let verified = &after
        .iter()
        .find(|(path, _)| path == "/v1/audit_logs/verify")
        .unwrap()
        .1;
    assert_eq!(verified["valid"], true, "{verified}");

    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    app.stop().await;
    small.stop().await;
}

/// What an item's texts may try in a chart: close a label, open a comment, a directive,
/// an arrow, a link, an element, a new line.
const CHART_ATTACKS: &[&str] = &[
    "<script>alert(1)</script>",
    "\"]; click t0 call alert(1) %%",
    "x --> y",
    "%%{init: {\"securityLevel\": \"loose\"}}%%",
    "a\nsection injected\ncall alert(1)",
    "</text><script>alert(2)</script><text>",
    "'\" onload=\"alert(3)",
    "#59; #35; : ; # &lt;",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_escape_what_items_say() {
    let app = TestApp::spawn().await;
    let key = app.full_key("charts").await;
    let operation = "7a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    let publisher = "11111111-1111-4111-8111-111111111111";
    let consumer = "22222222-2222-4222-8222-222222222222";
    let mut items = Vec::new();
    for (n, attack) in CHART_ATTACKS.iter().enumerate() {
        // Scope ids and source names are labels: no control characters (a message may
        // hold them).
        let label = attack.replace('\n', " ");
        let at = |second: usize| format!("2026-03-04T10:{:02}:{:02}.000Z", n, second);
        items.extend([
            json!({"operationId": operation, "operationType": "InputData", "activityType": "Application|Begin",
                   "scopeId": label, "sourceId": publisher, "source": label, "utcTimestamp": at(1)}),
            json!({"operationId": operation, "operationType": "InputData", "activityType": "Application|End",
                   "scopeId": label, "sourceId": publisher, "utcTimestamp": at(2)}),
            json!({"operationId": operation, "operationType": "ConsumeData", "activityType": "Validation",
                   "severity": if n % 2 == 0 { "Error" } else { "Warning" }, "message": attack,
                   "sourceId": consumer, "source": label, "utcTimestamp": at(3)}),
        ]);
    }
    items.push(json!({"operationId": operation, "operationType": "InputData", "activityType": "Application|Start",
                      "sourceId": publisher, "utcTimestamp": "2026-03-04T09:59:00.000Z"}));
    let recorded = expect_status(
        app.post("/api/v1/OperatingLogs/batch", &key, Value::Array(items))
            .await,
        StatusCode::CREATED,
    )
    .await;
    // Stored verbatim.
    let stored: Vec<&Value> = recorded["items"].as_array().unwrap().iter().collect();
    for attack in CHART_ATTACKS {
        assert!(
            stored
                .iter()
                .any(|item| item["scopeId"] == attack.replace('\n', " ").as_str()
                    || item["message"] == *attack),
            "{attack:?} was not stored as sent"
        );
    }

    let chart = |format: &'static str| {
        let app = &app;
        let key = &key;
        async move {
            let response = app
                .get(
                    &format!("/v1/operations/{operation}/gantt?format={format}"),
                    key,
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            let headers = response.headers().clone();
            (headers, response.text().await.unwrap())
        }
    };

    let (headers, mermaid) = chart("mermaid").await;
    assert_eq!(headers["content-type"], "text/vnd.mermaid; charset=utf-8");
    assert!(mermaid.starts_with("gantt\n"), "{mermaid}");
    // Every line is the chart's own: a header, a section, or a task whose label holds
    // only plain characters and entity codes, followed by its data.
    let mut tasks = 0;
    for line in mermaid.lines() {
        let line = line.trim_start();
        if line == "gantt"
            || line.starts_with("title Operation ")
            || line == "dateFormat x"
            || line == "axisFormat %H:%M:%S"
            || line.is_empty()
        {
            continue;
        }
        let text = line.strip_prefix("section ").unwrap_or(line);
        let label = match text.split_once(" :") {
            Some((label, _)) if !line.starts_with("section ") => {
                tasks += 1;
                label
            }
            _ => text,
        };
        assert!(
            label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " -_.#;".contains(c)),
            "a label carries a raw character: {line:?}\n{mermaid}"
        );
        for raw in ["<", ">", "\"", "%%", "-->", "]", "{", "'"] {
            assert!(!label.contains(raw), "{raw:?} in {line:?}");
        }
    }
    assert!(tasks >= CHART_ATTACKS.len() * 2, "{mermaid}");
    for attack in CHART_ATTACKS {
        assert!(
            !mermaid.contains(attack),
            "{attack:?} reached the chart as it is"
        );
    }
    assert!(
        mermaid.contains("#60;script#62;"),
        "the script is escaped: {mermaid}"
    );

    let (headers, svg) = chart("svg").await;
    assert_eq!(headers["content-type"], "image/svg+xml");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(!svg.to_ascii_lowercase().contains("<script"), "{svg}");
    assert!(!svg.contains("onload=\""), "{svg}");
    assert!(svg.contains("&lt;script&gt;"), "{svg}");
    // Every element is one pipelog draws, and every attribute value is closed where it
    // should be: no text broke out of its element or its quotes.
    for element in svg.split('<').skip(1) {
        let name: String = element
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            [
                "svg", "title", "rect", "text", "line", "g", "path", "polygon", "circle"
            ]
            .contains(&name.as_str()),
            "an element pipelog does not draw: <{}",
            brief(element, 80)
        );
        let tag = element.split('>').next().unwrap();
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "quotes unbalanced in <{tag}>"
        );
        for attribute in tag.split('"').step_by(2).skip(1) {
            let attribute = attribute.trim().trim_end_matches('/');
            assert!(
                attribute.is_empty() || attribute.ends_with('='),
                "text outside an attribute value in <{tag}>"
            );
        }
    }
    for attack in CHART_ATTACKS {
        assert!(!svg.contains(attack), "{attack:?} reached the SVG as it is");
    }
    app.stop().await;
}
