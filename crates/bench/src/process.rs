//! The servers the benchmark measures, as child processes: a release `pipelog serve` on a
//! fresh data dir, and the raw-HTTP ceiling (this binary's `raw-http` command). Their memory
//! is read from `/proc`.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, bail};

/// What both servers print once they listen; the address follows it.
pub const LISTENING: &str = "listening on http://";

/// A server process, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub address: SocketAddr,
}

impl Server {
    /// `pipelog serve` on `data_dir` (and `database`, if given), on a free port, with
    /// `operator_key` as its operator key.
    pub fn pipelog(
        binary: &Path,
        data_dir: &Path,
        database: Option<&str>,
        operator_key: &str,
    ) -> anyhow::Result<Server> {
        let mut command = Command::new(binary);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log",
                "warn",
                "--data-dir",
            ])
            .arg(data_dir)
            .env("PIPELOG_BOOTSTRAP_KEY", operator_key);
        if let Some(url) = database {
            command.args(["--database", url]);
        }
        Server::start("pipelog", command)
    }

    /// The raw-HTTP ceilings: this same binary, serving `raw-http` with `args` (see
    /// `RawHttpOptions`).
    pub fn raw_http(args: &[&OsStr]) -> anyhow::Result<Server> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("raw-http").args(args);
        Server::start("raw-http", command)
    }

    fn start(name: &'static str, mut command: Command) -> anyhow::Result<Server> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (found, address) = mpsc::channel();
        // Reads the address, then passes the server's own messages on, so that the pipe
        // never fills and a server that complains is heard.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find(LISTENING) {
                    if let Some(found) = found.take() {
                        let _ = found.send(line[at + LISTENING.len()..].trim().to_owned());
                    }
                } else {
                    eprintln!("{name}: {line}");
                }
            }
        });
        let address = match address.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                bail!("{name} did not say where it listens within a minute");
            }
        };
        let address = address
            .parse()
            .with_context(|| format!("{name} listens on {address:?}"))?;
        Ok(Server { child, address })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now.
    pub fn rss(&self) -> anyhow::Result<u64> {
        status_field(self.pid(), "VmRSS:")
    }

    /// The most resident memory since the start, or since `reset_peak_rss`.
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        status_field(self.pid(), "VmHWM:")
    }

    /// Starts the peak (`VmHWM`) afresh from the current resident memory.
    pub fn reset_peak_rss(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .context("cannot reset the server's peak RSS through /proc/PID/clear_refs")
    }

    /// Samples resident memory every 100 ms until the sampler is stopped.
    pub fn sample_rss(&self) -> RssSampler {
        let pid = self.pid();
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(rss) = status_field(pid, "VmRSS:") {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        RssSampler { stop, peak, thread }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory sampled while something runs.
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: JoinHandle<()>,
}

impl RssSampler {
    /// Stops sampling; the most resident memory seen.
    pub fn peak(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.peak.load(Ordering::Relaxed)
    }
}

/// A `kB` field of `/proc/PID/status`, in bytes.
fn status_field(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with(field))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("{line:?}"))?;
    Ok(kib * 1024)
}

/// Creates an unlimited key with every permission for `account` (created if new) in a data
/// dir (or database) no server holds yet, through `pipelog keys create`.
pub fn create_key(
    binary: &Path,
    data_dir: &Path,
    database: Option<&str>,
    account: &str,
) -> anyhow::Result<String> {
    let mut command = Command::new(binary);
    command
        .args([
            "keys",
            "create",
            "--permissions",
            "ALL",
            "--rate-limit",
            "0",
        ])
        .args(["--account", account, "--data-dir"])
        .arg(data_dir);
    if let Some(url) = database {
        command.args(["--database", url]);
    }
    let output = command.output().context("cannot run pipelog keys create")?;
    if !output.status.success() {
        bail!(
            "pipelog keys create failed: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let stdout = String::from_utf8(output.stdout)?;
    let key = stdout
        .lines()
        .last()
        .context("pipelog keys create printed nothing")?;
    Ok(key.trim().to_owned())
}
