//! `pipelog audit`: `find` searches a server's audit log (see [`crate::audit_remote`]);
//! `verify` asks a server to check the key's account's hash chain, or, given a data dir or
//! a database, recomputes every account's chain straight from the store, with the server
//! stopped or running. Either takes a digest kept since, and exits 1 if a chain is broken.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, Subcommand};
use pipelog_core::audit::{AuditId, ChainHash};
use pipelog_core::audit_digest::{ChainDigest, DigestKey};
use pipelog_core::ids::{AccountId, AccountName};
use pipelog_core::time::UtcTime;
use pipelog_store::ChainAnchor;
use serde::Deserialize;

use crate::secrets;
use crate::settings::StoreArgs;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Searches the audit log, newest first, with the find language's JSON or a compact
    /// expression compiled to it (grammar: docs/api.md, "Compact expressions").
    ///
    /// Example: `pipelog audit find 'type = job.end and details.jobInstanceStatus in (FAILED, TIMED_OUT) and timeGenerated >= 2026-11-01'`
    Find(crate::audit_remote::FindArgs),
    /// Checks the audit hash chain and names the first broken entry; exits 1 if it is
    /// broken. Asks the server (for the key's account), or with --data-dir, --database or
    /// --config recomputes every account's chain (or --account's) straight from the store.
    ///
    /// Example: `pipelog audit verify --digest digest-2026-11-01.json`
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Only this account (straight from the store only; a server checks the key's).
    #[arg(long)]
    account: Option<String>,
    #[command(flatten)]
    remote: crate::audit_remote::RemoteVerifyArgs,
}

impl VerifyArgs {
    /// Whether the check runs straight on a store rather than through a server.
    fn is_local(&self) -> bool {
        self.store.config.is_some()
            || self.store.data_dir.is_some()
            || self.store.database.is_some()
    }
}

/// The parts of a saved digest this check reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SavedDigest {
    account_id: String,
    entries: u64,
    head_hash: String,
    last_id: Option<AuditId>,
    issued_at: UtcTime,
    signature: String,
}

/// Reads a saved digest, checks its signature, and gives the account and the anchor.
fn read_digest(path: &Path, data_dir: &Path) -> anyhow::Result<(AccountId, ChainAnchor)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the digest {}", path.display()))?;
    let saved: SavedDigest = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a digest", path.display()))?;
    let account = AccountId::new(saved.account_id.parse().with_context(|| {
        format!(
            "the digest's accountId `{}` is not an account id",
            saved.account_id
        )
    })?);
    let head = ChainHash::from_hex(&saved.head_hash)
        .context("the digest's headHash is not 64 hexadecimal digits")?;
    let signature = STANDARD
        .decode(saved.signature.trim())
        .context("the digest's signature is not base64")?;
    let digest = ChainDigest {
        account_id: account,
        entries: saved.entries,
        head,
        last_id: saved.last_id,
        issued_at: saved.issued_at,
    };
    let key = DigestKey::from_seed(
        secrets::existing(data_dir, secrets::DIGEST_KEY_FILE)
            .context("cannot read the data dir's digest key")?,
    );
    anyhow::ensure!(
        key.public_key().verifies(&digest, &signature),
        "the digest's signature is not this data dir's: it was altered, or made elsewhere"
    );
    Ok((
        account,
        ChainAnchor {
            entries: saved.entries,
            head,
        },
    ))
}

pub fn run(command: AuditCommand) -> anyhow::Result<ExitCode> {
    match command {
        AuditCommand::Find(args) => crate::audit_remote::find(args),
        AuditCommand::Verify(args) if args.is_local() => verify(args),
        AuditCommand::Verify(args) => {
            anyhow::ensure!(
                args.account.is_none(),
                "--account is for a check straight on a store (--data-dir or --database); a server checks its key's account"
            );
            crate::audit_remote::verify(args.remote)
        }
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
    let anchor = args
        .remote
        .digest
        .as_deref()
        .map(|path| read_digest(path, &settings.data_dir))
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        let store = settings.open().await?;
        let accounts: Vec<_> = store
            .accounts()
            .await?
            .into_iter()
            .filter(|(_, name)| only.as_ref().is_none_or(|only| only == name))
            .filter(|(id, _)| anchor.is_none_or(|(account, _)| account == *id))
            .collect();
        if anchor.is_some() && accounts.is_empty() {
            anyhow::bail!("the digest's account is not in this store");
        }
        if let Some(only) = &only
            && accounts.is_empty()
        {
            anyhow::bail!("no account named `{only}` in this store");
        }
        let mut intact = true;
        for (id, name) in accounts {
            let verification = store
                .verify_audit(id, anchor.map(|(_, anchor)| anchor))
                .await?;
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
