//! Profiles: which server the client commands talk to, and with which key.
//!
//! `pipelog login --url URL` keeps a profile (the server's address and an API key) in
//! `~/.config/pipelog/config.toml` (`$XDG_CONFIG_HOME/pipelog/config.toml` when that is
//! set), a file only its owner can read. Each client command takes `--profile NAME`
//! (default: the profile `default`), and `PIPELOG_URL` and `PIPELOG_API_KEY` override what
//! the profile says, so scripts and CI need no file at all.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::remote::Remote;

/// The profile used without `--profile`.
pub const DEFAULT_PROFILE: &str = "default";

/// What every client command takes to find its server.
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// The profile of ~/.config/pipelog/config.toml to use [default: default].
    #[arg(long, global = true, env = "PIPELOG_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    url: String,
    key: String,
}

/// The config file's path: under `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_path() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|dir| !dir.is_empty()) {
        return Ok(PathBuf::from(dir).join("pipelog/config.toml"));
    }
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .context("neither XDG_CONFIG_HOME nor HOME is set: no place for the config file")?;
    Ok(PathBuf::from(home).join(".config/pipelog/config.toml"))
}

fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes the file whole, readable by its owner only, then renames it into place: a
/// crash leaves the old file or the new one, never half of either.
fn write_config(path: &Path, config: &ConfigFile) -> anyhow::Result<()> {
    let dir = path.parent().context("the config file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let draft = path.with_extension("toml.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let text = toml::to_string(config).context("cannot write the profiles as TOML")?;
    let mut file = options
        .open(&draft)
        .with_context(|| format!("cannot write {}", draft.display()))?;
    // An existing draft keeps its mode through `open`; make sure of the owner-only mode.
    #[cfg(unix)]
    std::fs::set_permissions(&draft, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&draft, path).with_context(|| format!("cannot replace {}", path.display()))
}

impl ProfileArgs {
    fn name(&self) -> &str {
        self.profile.as_deref().unwrap_or(DEFAULT_PROFILE)
    }

    /// The server and key to talk to: `PIPELOG_URL` and `PIPELOG_API_KEY`, else the profile.
    pub fn remote(&self) -> anyhow::Result<Remote> {
        let url = non_empty_var("PIPELOG_URL");
        let key = non_empty_var("PIPELOG_API_KEY");
        if let (Some(url), Some(key)) = (&url, &key) {
            return Remote::new(url, key);
        }
        let path = config_path()?;
        let config = read_config(&path)?;
        let name = self.name();
        let profile = config.profiles.get(name);
        let url = url.or_else(|| profile.map(|profile| profile.url.clone()));
        let key = key.or_else(|| profile.map(|profile| profile.key.clone()));
        match (url, key) {
            (Some(url), Some(key)) => Remote::new(&url, &key),
            _ => bail!(
                "no server to talk to: run `pipelog login --url URL{}` (the profile `{name}` is not in {}), or set PIPELOG_URL and PIPELOG_API_KEY",
                if name == DEFAULT_PROFILE {
                    String::new()
                } else {
                    format!(" --profile {name}")
                },
                path.display()
            ),
        }
    }
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// `pipelog login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's address, as `https://logs.example.com` or `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL")]
    url: String,
    #[command(flatten)]
    profile: ProfileArgs,
}

/// Reads a key (from stdin when it is not a terminal, else from a prompt that does not
/// echo), checks it against the server, and keeps it in the profile.
pub fn login(args: LoginArgs) -> anyhow::Result<()> {
    let key = read_key()?;
    let remote = Remote::new(&args.url, &key)?;
    remote
        .check_key()
        .with_context(|| format!("the key was not kept: {} refused it", remote.base()))?;
    let path = config_path()?;
    let mut config = read_config(&path)?;
    let name = args.profile.name().to_owned();
    config.profiles.insert(
        name.clone(),
        Profile {
            url: remote.base().to_owned(),
            key,
        },
    );
    write_config(&path, &config)?;
    eprintln!(
        "pipelog: logged in to {} as profile `{name}` ({})",
        remote.base(),
        path.display()
    );
    Ok(())
}

fn read_key() -> anyhow::Result<String> {
    let key = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("API key: ").context("cannot read the key")?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the key from stdin")?;
        line
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        bail!(
            "no key given: paste it at the prompt, or pipe it in (`pipelog login --url URL < key.txt`)"
        );
    }
    Ok(key)
}
