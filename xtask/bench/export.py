"""Exports one execution's log: time to READY, the server's RSS growth meanwhile, download.

Usage: export.py PORT KEY EXECUTION FORMAT SERVER_PID. Prints the figures as JSON.
"""

import http.client
import json
import sys
import time
import urllib.request


def main():
    port, key, execution, file_format, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    connection = http.client.HTTPConnection("127.0.0.1", port)

    def rss():
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise SystemExit("no VmRSS")

    def call(path, body=b"", content_type="application/json"):
        connection.request("POST", path, body=body, headers={"Authorization": f"Bearer {key}", "Content-Type": content_type})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {data[:300]!r}")
        return json.loads(data)

    before = peak = rss()
    started = time.perf_counter()
    answer = call(f"/monitoring/executions/{execution}/logs?fileFormat={file_format}")
    while True:
        peak = max(peak, rss())
        status = call(f"/monitoring/executions/{execution}/logs/status", answer["token"].encode(), "text/plain")
        if status["status"] != "IN_PROGRESS":
            break
        time.sleep(0.02)
    built = time.perf_counter() - started
    if status["status"] != "READY":
        raise SystemExit(f"export {status}")
    started = time.perf_counter()
    size = 0
    with urllib.request.urlopen(status["presignedURL"]) as response:
        while chunk := response.read(1 << 20):
            size += len(chunk)
    downloaded = time.perf_counter() - started
    print(json.dumps({
        "format": file_format,
        "lines": answer["size"],
        "build_s": round(built, 2),
        "lines_per_s": round(answer["size"] / built),
        "bytes": size,
        "rss_before_mib": before >> 20,
        "rss_peak_growth_mib": (peak - before) >> 20,
        "download_mb_per_s": round(size / downloaded / 1e6),
    }))


if __name__ == "__main__":
    main()
