//! `pipelog keys create`: makes a key straight in a data dir, with the server stopped or
//! running (SQLite serialises the two writers), and prints it as the last line of stdout.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use pipelog_core::api_key::{ApiKeySecret, KeyName, KeyRole, NewApiKey, RateLimit};
use pipelog_core::ids::{AccountName, AgentId, Label, SourceId};
use pipelog_core::operating::DataAgent;
use pipelog_core::permission::PermissionSet;

use crate::settings::StoreArgs;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Creates a key (and its account, if new) and prints it as the last line of stdout.
    ///
    /// Example: `pipelog keys create --data-dir ./pipelog-data --account acme
    /// --permissions EXECUTION_LOGS_WRITE,JOBS_EXECUTE --rate-limit 600`
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The account the key belongs to; created if it does not exist.
    #[arg(long)]
    account: String,
    /// Comma-separated permissions, or ALL.
    #[arg(long, value_name = "P1,P2")]
    permissions: String,
    /// Requests per minute; 0 for none [default: the server's default].
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// A label to recognise the key by.
    #[arg(long)]
    name: Option<String>,
    /// The data agent the key stands for (a UUID): operating log items written with the key
    /// carry it as `agentId`.
    #[arg(long, value_name = "UUID")]
    agent_id: Option<String>,
    /// The agent's code, for `agentCode` (needs --agent-id).
    #[arg(long, requires = "agent_id")]
    agent_code: Option<String>,
    /// The agent's data source (a UUID), used as `sourceId` when an item names none
    /// (needs --agent-id).
    #[arg(long, value_name = "UUID", requires = "agent_id")]
    source_id: Option<String>,
}

fn data_agent(args: &CreateArgs) -> anyhow::Result<Option<DataAgent>> {
    let Some(agent_id) = &args.agent_id else {
        return Ok(None);
    };
    Ok(Some(DataAgent {
        agent_id: AgentId::parse(agent_id)
            .with_context(|| format!("invalid --agent-id `{agent_id}`"))?,
        agent_code: args
            .agent_code
            .as_deref()
            .map(Label::parse)
            .transpose()
            .context("invalid --agent-code")?,
        source_id: args
            .source_id
            .as_deref()
            .map(SourceId::parse)
            .transpose()
            .context("invalid --source-id")?,
    }))
}

pub fn run(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Create(args) => create(args),
    }
}

fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let account = AccountName::parse(&args.account)
        .with_context(|| format!("invalid --account `{}`", args.account))?;
    let permissions = if args.permissions.trim().eq_ignore_ascii_case("ALL") {
        PermissionSet::all()
    } else {
        PermissionSet::parse_list(&args.permissions).context("invalid --permissions")?
    };
    anyhow::ensure!(!permissions.is_empty(), "--permissions names no permission");
    let name = args
        .name
        .as_deref()
        .map(KeyName::parse)
        .transpose()
        .context("invalid --name")?;
    let agent = data_agent(&args)?;
    let settings = args.store.resolve()?;
    let secret = ApiKeySecret::generate();
    let rate_limit = RateLimit::from_option(args.rate_limit);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let key = runtime.block_on(async {
        let store = settings.open().await?;
        let created = store
            .create_key(
                NewApiKey {
                    account,
                    name,
                    hash: secret.hash(),
                    permissions,
                    rate_limit,
                    role: KeyRole::Account,
                    agent,
                },
                None,
            )
            .await;
        store.close().await?;
        anyhow::Ok(created?)
    })?;
    let limit = match key.rate_limit {
        RateLimit::ServerDefault => "the server's default".to_owned(),
        RateLimit::Unlimited => "none".to_owned(),
        RateLimit::PerMinute(n) => format!("{n} per minute"),
    };
    eprintln!("created key {} for account `{}`", key.id, key.account);
    eprintln!("permissions: {}", key.permissions);
    eprintln!("rate limit: {limit}");
    eprintln!("the key is shown only this once:");
    println!("{}", secret.reveal());
    Ok(ExitCode::SUCCESS)
}
