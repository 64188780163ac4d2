"""Loads one execution with LINES lines of real log text through the bulk endpoint.

Usage: load.py HOST PORT KEY LINES. Prints the execution and the load rate as JSON.
"""

import glob
import http.client
import itertools
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOGHUB = os.environ.get("LOGHUB", os.path.join(HERE, "../../../shared/data/loghub"))
BATCH = 10_000


def main():
    host, port, key, total = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    lines = []
    for path in sorted(glob.glob(os.path.join(LOGHUB, "*.log"))):
        with open(path, errors="replace") as file:
            lines += [line.rstrip("\n") for line in file if line.strip()]
    if not lines:
        raise SystemExit(f"no *.log files in {LOGHUB}")
    connection = http.client.HTTPConnection(host, port)

    def call(method, path, body, content_type="application/json"):
        connection.request(method, path, body=body, headers={"X-Api-Key": key, "Content-Type": content_type})
        response = connection.getresponse()
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data)

    execution = call("POST", "/v1/executions", json.dumps({"jobKey": "bench"}))
    severities = ["info"] * 17 + ["warning", "warning", "error"]
    source = itertools.cycle(enumerate(lines))
    started = time.perf_counter()
    sent = 0
    for _ in range(total // BATCH):
        body = "\n".join(
            json.dumps({"message": message, "severity": severities[n % 20], "emitterName": "bench"})
            for n, message in itertools.islice(source, BATCH)
        ).encode()
        sent += len(body)
        call("POST", f"/v1/executions/{execution['id']}/logs", body, "application/x-ndjson")
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "execution": execution["id"],
        "lines": total // BATCH * BATCH,
        "seconds": round(elapsed, 2),
        "lines_per_s": round(total / elapsed),
        "mb_per_s": round(sent / elapsed / 1e6, 1),
    }))


if __name__ == "__main__":
    main()
