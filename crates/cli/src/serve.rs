//! `pipelog serve`: reads the TLS files if given, opens the store, creates the operator key
//! on first start, serves until SIGINT or SIGTERM, lets in-flight requests finish and
//! closes the store.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use pipelog_core::api_key::ApiKeySecret;
use pipelog_core::audit_digest::DigestKey;
use pipelog_server::{TlsConfig, UrlSigningKey};
use pipelog_store::Store;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::secrets;
use crate::settings::{LogFormat, ServeArgs};

/// The environment variable whose value becomes the operator key of a fresh store.
pub const BOOTSTRAP_KEY_VAR: &str = "PIPELOG_BOOTSTRAP_KEY";

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut settings = args.resolve()?;
    init_logging(&settings.log, settings.log_format)?;
    // Before the store is touched: a TLS file that cannot be used stops the start at once.
    if let Some(files) = &settings.tls {
        settings.server.tls = Some(TlsConfig::from_pem_files(&files.certificate, &files.key)?);
    }
    let chosen_key = match std::env::var(BOOTSTRAP_KEY_VAR) {
        Ok(text) => Some(
            ApiKeySecret::chosen(&text)
                .with_context(|| format!("{BOOTSTRAP_KEY_VAR} cannot be used as a key"))?,
        ),
        Err(std::env::VarError::NotPresent) => None,
        Err(error) => anyhow::bail!("{BOOTSTRAP_KEY_VAR}: {error}"),
    };
    let data_dir = &settings.store.data_dir;
    settings.server.digest_key =
        DigestKey::from_seed(secrets::load_or_create(data_dir, secrets::DIGEST_KEY_FILE)?);
    settings.server.url_signing_key =
        UrlSigningKey::from_bytes(secrets::load_or_create(data_dir, secrets::LINK_KEY_FILE)?);
    settings.server.exports_dir = data_dir.join("exports");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = settings.store.open().await?;
        tracing::info!(store = %settings.store.describe(), "store open");
        bootstrap(store.as_ref(), chosen_key).await?;
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let address = listener.local_addr().context("the listening address")?;
        let scheme = if settings.server.tls.is_some() {
            "https"
        } else {
            "http"
        };
        eprintln!("pipelog: listening on {scheme}://{address}");
        let served = pipelog_server::run(
            listener,
            Arc::clone(&store),
            settings.server,
            shutdown_signal(),
        )
        .await;
        // Close the store whatever happened: it commits whatever was accepted.
        let closed = store.close().await;
        served.context("the server failed")?;
        closed.context("closing the store failed")?;
        tracing::info!("stopped; every acknowledged write is committed");
        Ok(ExitCode::SUCCESS)
    })
}

/// On a store that never had an operator key, makes one and prints it once (unless the
/// operator chose it through `PIPELOG_BOOTSTRAP_KEY`).
async fn bootstrap(store: &dyn Store, chosen: Option<ApiKeySecret>) -> anyhow::Result<()> {
    let (secret, was_chosen) = match chosen {
        Some(secret) => (secret, true),
        None => (ApiKeySecret::generate(), false),
    };
    let created = store
        .bootstrap(secret.hash())
        .await
        .context("cannot create the first account")?;
    match created {
        Some(key) if was_chosen => eprintln!(
            "pipelog: created the account `{}` with an operator key taken from {BOOTSTRAP_KEY_VAR}",
            key.account
        ),
        Some(key) => {
            eprintln!(
                "pipelog: created the account `{}` and its operator key. It holds every permission \
                 and is shown only this once; keep it safe:",
                key.account
            );
            eprintln!("pipelog: operator key: {}", secret.reveal());
        }
        None if was_chosen && store.find_key(secret.hash()).await?.is_none() => {
            tracing::warn!(
                "{BOOTSTRAP_KEY_VAR} is ignored: this store was set up before and keeps its keys"
            );
        }
        None => {}
    }
    Ok(())
}

fn init_logging(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let targets = Targets::from_str(filter).with_context(|| {
        format!("invalid log filter `{filter}`; try `info` or `warn,pipelog_server=debug`")
    })?;
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => layer
            .with_ansi(crate::output::colour(std::io::stderr().is_terminal()))
            .boxed(),
        // Spans' fields (the request id, say) go with every event, flattened beside its own.
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(layer)
        .with(targets)
        .try_init()
        .context("cannot set up logging")
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received"),
        () = terminate => tracing::info!("SIGTERM received"),
    }
}
