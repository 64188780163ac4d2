//! `pipelog audit verify`, on a data dir, after a row was changed behind pipelog's back.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{CHOSEN_KEY, Server, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_intact_chains_and_names_a_tampered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
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
    let intact = run(&["audit", "verify", "--data-dir", &data_dir], &[]);
    let stdout = String::from_utf8_lossy(&intact.stdout);
    assert!(intact.status.success(), "{stdout}");
    assert!(
        stdout.contains("account `default`: 4 entries checked, chain intact"),
        "{stdout}"
    );
    let held = run(
        &[
            "audit",
            "verify",
            "--data-dir",
            &data_dir,
            "--digest",
            &digest_file,
        ],
        &[],
    );
    assert!(
        held.status.success(),
        "{}",
        String::from_utf8_lossy(&held.stderr)
    );
    let mut forged = digest.clone();
    forged["entries"] = json!(2);
    let forged_file = dir.path().join("forged-digest.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let refused = run(
        &[
            "audit",
            "verify",
            "--data-dir",
            &data_dir,
            "--digest",
            forged_file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("signature is not this data dir's"));
    assert!(server.terminate().success());

    let database = rusqlite::Connection::open(dir.path().join("pipelog.db")).unwrap();
    database
        .execute(
            "UPDATE audit_entries SET time_generated = time_generated - 1000 WHERE public_id = ?1",
            [&ids[1]],
        )
        .unwrap();
    drop(database);

    let broken = run(
        &[
            "audit",
            "verify",
            "--data-dir",
            &data_dir,
            "--account",
            "default",
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "account `default`: BROKEN at entry {} (seq 2)",
            ids[1]
        )),
        "{stdout}"
    );
    let with_digest = run(
        &[
            "audit",
            "verify",
            "--data-dir",
            &data_dir,
            "--digest",
            &digest_file,
        ],
        &[],
    );
    assert_eq!(with_digest.status.code(), Some(1));
    let unknown = run(
        &[
            "audit",
            "verify",
            "--data-dir",
            &data_dir,
            "--account",
            "nobody",
        ],
        &[],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account named `nobody`"));
    let _ = StatusCode::OK;
}
