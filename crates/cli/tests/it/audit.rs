//! `pipelog audit verify`, straight on a store (a data dir, or on PostgreSQL runs its
//! database), after a row was changed behind pipelog's back.

use std::path::Path;
use std::process::Output;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{CHOSEN_KEY, Server, execute_sql, run, store_args};

/// `pipelog audit verify` on the store of `data_dir`, with `extra` options.
fn verify(data_dir: &Path, extra: &[&str]) -> Output {
    let store = store_args(data_dir);
    let mut args = vec!["audit", "verify"];
    args.extend(store.iter().map(String::as_str));
    args.extend_from_slice(extra);
    run(&args, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_intact_chains_and_names_a_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for status in ["SUCCESS", "SUCCESS", "SUCCESS"] {
        let recorded = server
            .call(&client, Method::POST, "/v1/audit_logs", json!({"entityType": "item", "type": "item.update", "version": 2, "details": {"status": status}}))
            .await;
        ids.push(recorded["id"].as_str().unwrap().to_owned());
    }
    let digest = server
        .call(&client, Method::GET, "/v1/audit_logs/digest", Value::Null)
        .await;
    let digest_file = dir.path().join("kept-digest.json");
    std::fs::write(&digest_file, digest.to_string()).unwrap();
    let digest_file = digest_file.to_str().unwrap().to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key_file = dir.path().join("audit-digest.key");
        let mode = std::fs::metadata(key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the signing key is its owner's alone");
    }

    // Beside the running server.
    let intact = verify(dir.path(), &[]);
    let stdout = String::from_utf8_lossy(&intact.stdout);
    assert!(intact.status.success(), "{stdout}");
    assert!(
        stdout.contains("account `default`: 4 entries checked, chain intact"),
        "{stdout}"
    );
    let held = verify(dir.path(), &["--digest", &digest_file]);
    assert!(
        held.status.success(),
        "{}",
        String::from_utf8_lossy(&held.stderr)
    );
    let mut forged = digest.clone();
    forged["entries"] = json!(2);
    let forged_file = dir.path().join("forged-digest.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let refused = verify(dir.path(), &["--digest", forged_file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signature is not this data dir's"));
    assert!(server.terminate().success());

    let changed = execute_sql(
        dir.path(),
        &format!(
            "UPDATE audit_entries SET time_generated = time_generated - 1000 WHERE public_id = '{}'",
            ids[1]
        ),
    )
    .await;
    assert_eq!(changed, 1);

    let broken = verify(dir.path(), &["--account", "default"]);
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "account `default`: BROKEN at entry {} (seq 2)",
            ids[1]
        )),
        "{stdout}"
    );
    let with_digest = verify(dir.path(), &["--digest", &digest_file]);
    assert_eq!(with_digest.status.code(), Some(1));
    let unknown = verify(dir.path(), &["--account", "nobody"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account named `nobody`"));
    let _ = StatusCode::OK;
}
