//! pipelog's HTTP server: one axum router holding every surface.
//!
//! [`run`] serves a bound listener until a shutdown future resolves, then drains in-flight
//! requests. Every write a handler acknowledges was committed by the store before the
//! handler answered, so once `run` returns nothing accepted is left to flush; the caller
//! then closes the store. With [`ServerConfig::tls`] set, it serves HTTPS.

mod config;
mod tls;
mod signed_url;
mod error;
mod request_context;
mod extract;
mod response;
mod auth;
mod rate_limit;
mod data_factory;
mod executions;
mod exports;
mod maintenance;
mod metrics;
mod openapi;
mod audit;
mod operating;
mod lineage;
mod otlp;
mod native;
mod idempotency;
mod admission;
#[cfg(feature = "console")]
mod render;
#[cfg(feature = "console")]
mod console;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::middleware;
use axum::serve::Listener;
use pipelog_store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::ServerConfig;
use error::ApiError;
pub use signed_url::UrlSigningKey;
pub use tls::{TlsConfig, TlsError};
// The ingest routes' decoders (request bytes to core values, no store or HTTP between):
// public for the fuzz targets in `fuzz/`, not part of the API.
#[doc(hidden)]
pub use data_factory::decode_data_factory_log;
#[doc(hidden)]
pub use native::logs::decode_append_body;
#[doc(hidden)]
pub use otlp::{PlacedRecords, decode_export};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    store: Arc<dyn Store>,
    auth: Arc<auth::Authenticator>,
    config: Arc<ServerConfig>,
    /// Turns true when the server begins shutting down, so long waits end early.
    stopping: watch::Receiver<bool>,
    maintenance: Arc<maintenance::Maintenance>,
    /// The live tails' feeds, one per execution someone follows.
    feeds: Arc<native::Feeds>,
    metrics: Arc<metrics::Metrics>,
    /// The budget of request bodies in memory.
    admission: Arc<admission::Admission>,
}

/// Serves `listener` (over TLS when `config.tls` is set) until `shutdown` resolves, then
/// stops taking connections, lets in-flight requests finish (up to `config.shutdown_grace`)
/// and returns.
pub async fn run(
    listener: TcpListener,
    store: Arc<dyn Store>,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopping) = watch::channel(false);
    let stop = Arc::new(stop);
    let stop_on_signal = Arc::clone(&stop);
    let grace = config.shutdown_grace;
    let tls = config.tls.clone();
    let admission = admission::Admission::new(config.max_inflight_bytes, config.max_body_bytes);
    let state = AppState {
        auth: Arc::new(auth::Authenticator::new(Arc::clone(&store), &config)),
        store,
        config: Arc::new(config),
        stopping: stopping.clone(),
        maintenance: Arc::default(),
        feeds: Arc::default(),
        metrics: Arc::default(),
        admission: Arc::new(admission),
    };
    let background = maintenance::spawn(&state);
    let app = router(state);
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_on_signal.send(true);
    };
    let served = match tls {
        Some(tls) => {
            let listener = tls::TlsListener::new(listener, tls);
            serve_and_drain(listener, app, shutdown, stopping, grace).await
        }
        None => serve_and_drain(listener, app, shutdown, stopping, grace).await,
    };
    // Whatever ended the server ends the background work too; wait for it to stop.
    let _ = stop.send(true);
    for task in background {
        let _ = task.await;
    }
    served
}

/// Serves until `shutdown` resolves, then waits for in-flight requests, up to `grace` after
/// `stopping` turned true.
async fn serve_and_drain<L>(
    listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut stopping: watch::Receiver<bool>,
    grace: std::time::Duration,
) -> std::io::Result<()>
where
    L: Listener<Addr = std::net::SocketAddr>,
{
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    let overdue = async move {
        let _ = stopping.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => served,
        () = overdue => {
            tracing::warn!(grace_secs = grace.as_secs(), "requests still open after the grace period; dropping them");
            Ok(())
        }
    }
}

/// The whole HTTP surface.
pub(crate) fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .merge(data_factory::router())
        .merge(audit::router())
        .merge(executions::router())
        .merge(operating::router())
        .merge(lineage::router())
        .merge(otlp::router())
        .merge(native::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::replay_or_run,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
    let router = Router::new()
        .merge(authenticated)
        .merge(exports::router())
        .merge(metrics::router())
        .merge(openapi::router());
    #[cfg(feature = "console")]
    let router = router.merge(console::router());
    router
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            admission::admit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .layer(middleware::from_fn(request_context::track))
        .with_state(state)
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
