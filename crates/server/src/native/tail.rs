//! Live tail: `GET /v1/executions/{id}/logs/stream`, as Server-Sent Events.
//!
//! A follower first replays the log from where it asks (a cursor, `Last-Event-ID`, the
//! last `tail` lines, or the start), then follows new lines as they commit, then gets an
//! `end` event with the execution's final status. Every line reaches it exactly once.
//!
//! However many follow one execution, there is one *feed* for it: a task that wakes on
//! each commit, reads the new lines once, and broadcasts them. Followers that fall behind
//! the broadcast read what they missed from the store.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use pipelog_core::execution::{Execution, ExecutionStatus};
use pipelog_core::ids::{AccountId, ExecutionId};
use pipelog_core::log_entry::LogEntry;
use pipelog_store::{LogRun, Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};
use utoipa::{IntoParams, ToSchema};

use super::cursor::Cursor;
use super::executions::execution_id;
use super::views::{LogEntryView, Render};
use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{PathParam, QueryParams};
use crate::openapi::ErrorResponse;

/// Lines read from the store at a time.
const CHUNK: usize = 1000;
/// Batches a feed holds for followers not yet caught up.
const FEED_BACKLOG: usize = 256;
/// Events a follower's connection may have waiting.
const FOLLOWER_BACKLOG: usize = 64;
/// A comment sent when nothing else was, so proxies keep the connection.
const HEARTBEAT: Duration = Duration::from_secs(15);

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/executions/{id}/logs/stream",
        get(stream).route_layer(requires!(ExecutionLogsRead)),
    )
}

/// What a feed broadcasts.
#[derive(Clone, Debug)]
enum FeedEvent {
    Lines(Arc<Vec<LogEntry>>),
    Ended(ExecutionStatus),
}

/// The feeds of the executions someone follows.
#[derive(Debug, Default)]
pub(crate) struct Feeds {
    feeds: Mutex<HashMap<(AccountId, ExecutionId), broadcast::Sender<FeedEvent>>>,
}

impl Feeds {
    /// Joins the execution's feed, starting one at `next_seq` if there is none.
    fn follow(
        self: &Arc<Self>,
        state: &AppState,
        account: AccountId,
        execution: &Execution,
    ) -> broadcast::Receiver<FeedEvent> {
        let key = (account, execution.id);
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(feed) = feeds.get(&key) {
            return feed.subscribe();
        }
        let (sender, receiver) = broadcast::channel(FEED_BACKLOG);
        feeds.insert(key, sender.clone());
        tokio::spawn(run_feed(
            Arc::clone(self),
            Arc::clone(&state.store),
            key,
            execution.next_seq,
            sender,
            state.stopping.clone(),
        ));
        receiver
    }

    /// Removes a feed nobody follows any more; false if someone still does.
    fn retire(&self, key: (AccountId, ExecutionId), sender: &broadcast::Sender<FeedEvent>) -> bool {
        let mut feeds = self.feeds.lock().unwrap_or_else(|p| p.into_inner());
        if sender.receiver_count() > 0 {
            return false;
        }
        feeds.remove(&key);
        true
    }

    fn close(&self, key: (AccountId, ExecutionId)) {
        self.feeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    }
}

async fn run_feed(
    feeds: Arc<Feeds>,
    store: Arc<dyn Store>,
    key: (AccountId, ExecutionId),
    mut next: u64,
    sender: broadcast::Sender<FeedEvent>,
    mut stopping: watch::Receiver<bool>,
) {
    let (account, id) = key;
    let mut changes = store.execution_changes(id);
    let mut check = tokio::time::interval(HEARTBEAT);
    loop {
        // Mark every change so far as seen before reading, so none is slept through.
        changes.borrow_and_update();
        let run = match store.read_log_run(account, id, next..u64::MAX, CHUNK).await {
            Ok(run) => run,
            Err(error) => {
                tracing::warn!(%error, execution_id = %id, "a live tail's feed stopped");
                feeds.close(key);
                return;
            }
        };
        let full = run.entries.len() == CHUNK;
        if let Some(last) = run.entries.last() {
            next = last.seq + 1;
            let _ = sender.send(FeedEvent::Lines(Arc::new(run.entries)));
        }
        if full {
            continue;
        }
        if run.execution.status.has_ended() {
            feeds.close(key);
            let _ = sender.send(FeedEvent::Ended(run.execution.status));
            return;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { feeds.close(key); return },
            _ = check.tick() => if feeds.retire(key, &sender) { return },
            _ = stopping.wait_for(|stopping| *stopping) => { feeds.close(key); return }
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// A `nextCursor` of `GET /v1/executions/{id}/logs` read oldest first.
    cursor: Option<String>,
    /// Start with the last this many lines.
    tail: Option<u64>,
    /// Start after the line with this seq.
    #[serde(rename = "afterSeq")]
    #[param(rename = "afterSeq")]
    after_seq: Option<u64>,
    /// `html`: every line also carries `messageHtml`, its message as safe HTML.
    render: Option<Render>,
}

/// Where a follower starts: after which `seq` (`None`: from the first stored line).
fn start_after(
    query: &StreamQuery,
    headers: &HeaderMap,
    execution: &Execution,
) -> Result<Option<u64>, ApiError> {
    // Seqs only grow, so every line ever sent has a seq below the log's next one: one at
    // or past it names no line (and following it would count past the largest seq).
    let sent = |what: &str, seq: u64| match execution.next_seq.checked_sub(1) {
        Some(last) if seq <= last => Ok(Some(seq)),
        Some(last) => Err(ApiError::invalid(
            what,
            format!("no line has seq {seq}: the execution's last line has seq {last}"),
        )),
        None => Err(ApiError::invalid(
            what,
            format!("no line has seq {seq}: the execution has no lines yet"),
        )),
    };
    if let Some(last_event) = headers.get("last-event-id") {
        let seq = last_event
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::invalid(
                    "header `Last-Event-ID`",
                    "expected the seq of the last line received",
                )
            })?;
        return sent("header `Last-Event-ID`", seq);
    }
    if let Some(cursor) = &query.cursor {
        return match Cursor::decode(cursor)? {
            Cursor::Log {
                order: pipelog_core::paging::SortOrder::Asc,
                after_seq,
            } => sent("query parameter `cursor`", after_seq),
            _ => Err(ApiError::invalid(
                "query parameter `cursor`",
                "follow from a cursor of a log read oldest first (`order=asc`)",
            )),
        };
    }
    if let Some(after) = query.after_seq {
        return sent("query parameter `afterSeq`", after);
    }
    if let Some(tail) = query.tail {
        return Ok(execution.next_seq.checked_sub(tail.saturating_add(1)));
    }
    Ok(None)
}

/// `GET /v1/executions/{id}/logs/stream`.
#[utoipa::path(get, path = "/v1/executions/{id}/logs/stream", tag = "Execution logs",
    params(("id" = ExecutionId, Path, description = "The execution's id."), StreamQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this seq (sent by EventSource on reconnect).")),
    responses(
        (status = 200, description = "Server-Sent Events: each line as a `log` event (its seq as the id, a log entry as JSON data), then one `end` event with the final status.", content_type = "text/event-stream", body = Object),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    headers: HeaderMap,
    QueryParams(query): QueryParams<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let id = execution_id(&id)?;
    let account = principal.account();
    let execution = state.store.execution(account, id).await?;
    let after = start_after(&query, &headers, &execution)?;
    let feed = state.feeds.follow(&state, account, &execution);
    let (events, waiting) = mpsc::channel(FOLLOWER_BACKLOG);
    let render = query.render.unwrap_or_default();
    tokio::spawn(follow(
        state,
        account,
        execution,
        (after, render),
        feed,
        events,
    ));
    let stream = futures_util::stream::unfold(waiting, |mut waiting| async move {
        waiting.recv().await.map(|event| (Ok(event), waiting))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")))
}

/// The `end` event's data.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct EndView {
    execution_id: ExecutionId,
    status: ExecutionStatus,
    /// The seq of the last line sent, if any was.
    last_seq: Option<u64>,
}

/// One follower: sends what it has not sent yet, in order, once.
struct Follower {
    store: Arc<dyn Store>,
    account: AccountId,
    execution: Execution,
    /// The seq of the last line sent.
    sent: Option<u64>,
    events: mpsc::Sender<Event>,
    render: Render,
}

/// The follower's connection went away.
struct Gone;

impl Follower {
    fn next_wanted(&self) -> u64 {
        self.sent.map_or(self.execution.first_seq, |sent| sent + 1)
    }

    /// Sends those of `lines` not sent yet, in order.
    async fn send_lines(&mut self, lines: &[LogEntry]) -> Result<(), Gone> {
        for entry in lines {
            if entry.seq < self.next_wanted() {
                continue;
            }
            let view = LogEntryView::new(entry.clone(), &self.execution).rendered(self.render);
            let event = Event::default()
                .id(entry.seq.to_string())
                .event("log")
                .json_data(&view)
                .unwrap_or_else(|_| Event::default().comment("an unwritable line"));
            self.events.send(event).await.map_err(|_| Gone)?;
            self.sent = Some(entry.seq);
        }
        Ok(())
    }

    /// Reads and sends everything stored after what was sent, up to `before`.
    async fn catch_up(
        &mut self,
        before: u64,
    ) -> Result<Option<Execution>, Result<Gone, StoreError>> {
        let mut latest = None;
        loop {
            let from = self.next_wanted();
            if from >= before {
                return Ok(latest);
            }
            let LogRun { execution, entries } = self
                .store
                .read_log_run(self.account, self.execution.id, from..before, CHUNK)
                .await
                .map_err(Err)?;
            let full = entries.len() == CHUNK;
            self.send_lines(&entries).await.map_err(Ok)?;
            latest = Some(execution);
            if !full {
                return Ok(latest);
            }
        }
    }

    async fn end(&mut self, status: ExecutionStatus) {
        let view = EndView {
            execution_id: self.execution.id,
            status,
            last_seq: self.sent,
        };
        if let Ok(event) = Event::default().event("end").json_data(&view) {
            let _ = self.events.send(event).await;
        }
    }
}

async fn follow(
    state: AppState,
    account: AccountId,
    execution: Execution,
    (after, render): (Option<u64>, Render),
    mut feed: broadcast::Receiver<FeedEvent>,
    events: mpsc::Sender<Event>,
) {
    let mut follower = Follower {
        render,
        store: Arc::clone(&state.store),
        account,
        sent: after.filter(|after| *after + 1 > execution.first_seq),
        execution,
        events,
    };
    let mut stopping = state.stopping.clone();
    // The history, up to wherever the log is now.
    match follower.catch_up(u64::MAX).await {
        Ok(Some(latest))
            if latest.status.has_ended() && follower.next_wanted() >= latest.next_seq =>
        {
            follower.end(latest.status).await;
            return;
        }
        Ok(_) => {}
        Err(Ok(Gone)) => return,
        Err(Err(error)) => {
            tracing::warn!(%error, "a live tail could not read the log");
            return;
        }
    }
    loop {
        let event = tokio::select! {
            event = feed.recv() => event,
            _ = stopping.wait_for(|stopping| *stopping) => return,
            () = follower.events.closed() => return,
        };
        let outcome = match event {
            Ok(FeedEvent::Lines(lines)) => {
                // Anything between what was sent and this batch comes from the store.
                let first = lines.first().map_or(u64::MAX, |entry| entry.seq);
                match follower.catch_up(first).await {
                    Ok(_) => follower.send_lines(&lines).await.map_err(Ok),
                    Err(error) => Err(error),
                }
            }
            Ok(FeedEvent::Ended(status)) => {
                if follower.catch_up(u64::MAX).await.is_ok() {
                    follower.end(status).await;
                }
                return;
            }
            // Fell behind the feed: read what was missed.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                follower.catch_up(u64::MAX).await.map(|_| ())
            }
            Err(broadcast::error::RecvError::Closed) => {
                // The feed stopped (its reads failed, or the server is stopping); the
                // log may have ended meanwhile.
                if let Ok(Some(latest)) = follower.catch_up(u64::MAX).await
                    && latest.status.has_ended()
                {
                    follower.end(latest.status).await;
                }
                return;
            }
        };
        match outcome {
            Ok(()) => {}
            Err(Ok(Gone)) => return,
            Err(Err(error)) => {
                tracing::warn!(%error, "a live tail could not read the log");
                return;
            }
        }
    }
}
