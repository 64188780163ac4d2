"""Starting the pipelog binary for the conformance scripts, and calling it."""

import json
import os
import subprocess
import urllib.request


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


def call(base, key, method, path, body=None):
    """A request with `key`, JSON `body` if given; the answer's JSON (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("X-Api-Key", key)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")
