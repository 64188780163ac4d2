//! `pipelog audit verify`: recomputes the audit hash chains of a data dir, with the server
//! stopped or running, and exits non-zero if any is broken.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use pipelog_core::ids::AccountName;
use pipelog_store::Store;
use pipelog_store::sqlite::SqliteStore;

use crate::settings::StoreArgs;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recomputes every account's audit chain (or one account's) and names the first
    /// broken entry. Exits 1 if any chain is broken.
    ///
    /// Example: `pipelog audit verify --data-dir ./pipelog-data --account acme`
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only this account.
    #[arg(long)]
    account: Option<String>,
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Verify(args) => verify(args),
    }
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let only = args
        .account
        .as_deref()
        .map(AccountName::parse)
        .transpose()
        .context("invalid --account")?;
    let settings = args.store.resolve()?;
    let store = SqliteStore::open(&settings.data_dir, settings.options)
        .with_context(|| format!("cannot open the store in {}", settings.data_dir.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        let accounts: Vec<_> = store
            .accounts()
            .await?
            .into_iter()
            .filter(|(_, name)| only.as_ref().is_none_or(|only| only == name))
            .collect();
        if let Some(only) = &only
            && accounts.is_empty()
        {
            anyhow::bail!("no account named `{only}` in this store");
        }
        let mut intact = true;
        for (id, name) in accounts {
            let verification = store.verify_audit(id).await?;
            match verification.broken {
                None => println!(
                    "account `{name}`: {} entries checked, chain intact",
                    verification.checked
                ),
                Some(link) => {
                    intact = false;
                    let entry = link
                        .id
                        .map_or_else(|| "its end".to_owned(), |id| format!("entry {id}"));
                    println!(
                        "account `{name}`: BROKEN at {entry} (seq {}): {}; the {} entries before it are intact",
                        link.seq, link.reason, verification.checked
                    );
                }
            }
        }
        store.close().await?;
        Ok(intact)
    })?;
    Ok(if outcome {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
