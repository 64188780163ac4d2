"""Starting the pipelog binary for the conformance scripts."""

import os
import subprocess


def start(binary, data_dir, key):
    """`pipelog serve` on a free port over `data_dir`, with `key` as its operator key; the
    process and its base URL, once it listens."""
    environment = {"PATH": os.environ.get("PATH", ""), "PIPELOG_BOOTSTRAP_KEY": key}
    server = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--log", "warn"],
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    for line in server.stderr:
        if line.startswith("pipelog: listening on "):
            return server, line.split()[-1]
    raise SystemExit("pipelog never listened")
