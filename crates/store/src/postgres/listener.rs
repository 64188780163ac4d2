//! The listener: a connection of its own that `LISTEN`s on pipelog's channel and ticks this
//! node's followers and claimers when another node committed something they wait for.
//!
//! Notices are sent inside the writing transaction, so PostgreSQL delivers them only once it
//! committed. A listener that loses its connection connects again, and then wakes every
//! follower: whatever it missed meanwhile, they read again from the database.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use pipelog_core::ids::ExecutionId;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

use super::QUEUED_NOTICE;
use crate::followers::Followers;

/// How long the listener waits before connecting again, at first and at most.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(super) struct Listener {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    pub(super) fn start(
        config: tokio_postgres::Config,
        channel: &'static str,
        followers: Arc<Followers>,
    ) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(listen(config, channel, followers, stopped));
        Listener {
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    pub(super) async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn listen(
    config: tokio_postgres::Config,
    channel: &'static str,
    followers: Arc<Followers>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut retry = RETRY_FIRST;
    let mut first = true;
    loop {
        let session = async {
            let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
            // The connection must be polled for the LISTEN to be answered: its messages
            // come through this stream, notifications among them.
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            let listen = format!("LISTEN {channel}");
            let listening = client.batch_execute(&listen);
            tokio::pin!(listening);
            loop {
                tokio::select! {
                    done = &mut listening => {
                        done?;
                        break;
                    }
                    message = messages.next() => match message {
                        Some(Ok(message)) => heard(&followers, message),
                        Some(Err(error)) => return Err(error),
                        None => return Ok(()),
                    },
                }
            }
            tracing::debug!(channel, "listening for other nodes' commits");
            if !first {
                // Whatever was committed while this node was not listening.
                followers.announce_all();
            }
            first = false;
            retry = RETRY_FIRST;
            // The client must outlive the session: dropping it closes the connection.
            let _client = &client;
            while let Some(message) = messages.next().await {
                heard(&followers, message?);
            }
            Ok::<(), tokio_postgres::Error>(())
        };
        tokio::select! {
            ended = session => match ended {
                Ok(()) => tracing::warn!("the listener's connection closed; connecting again"),
                Err(error) => tracing::warn!(%error, "the listener lost PostgreSQL; connecting again"),
            },
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        first = false;
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
        retry = (retry * 2).min(RETRY_MAX);
    }
}

fn heard(followers: &Followers, message: AsyncMessage) {
    let AsyncMessage::Notification(notification) = message else {
        return;
    };
    let payload = notification.payload();
    if payload == QUEUED_NOTICE {
        followers.queued();
    } else if let Some(id) = payload
        .strip_prefix("execution ")
        .and_then(|id| ExecutionId::parse(id).ok())
    {
        followers.announce(id);
    } else {
        tracing::debug!(payload, "an unknown notice");
    }
}
