"""Live-tail latency: FOLLOWERS clients follow one execution while LINES lines are appended
one request at a time, 10 ms apart. For each line and follower: the time from the append
being sent (before its commit) and from its answer (after its commit) to the line's event.

Usage: tail.py PORT KEY FOLLOWERS LINES. Prints percentiles as JSON.
"""

import http.client
import json
import sys
import threading
import time


def percentiles(values):
    values = sorted(values)
    at = lambda p: round(values[min(len(values) - 1, int(len(values) * p))], 2)
    return {"p50": at(0.5), "p99": at(0.99), "max": round(values[-1], 2)}


def main():
    port, key, followers, lines = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    writer = http.client.HTTPConnection("127.0.0.1", port)

    def call(path, body):
        writer.request("POST", path, body=json.dumps(body), headers={"X-Api-Key": key, "Content-Type": "application/json"})
        response = writer.getresponse()
        data = response.read()
        if response.status >= 300:
            raise SystemExit(f"{path}: {response.status} {data[:300]!r}")
        return json.loads(data)

    execution = call("/v1/executions", {"jobKey": "tail-bench"})["id"]
    call(f"/v1/executions/{execution}/start", {})
    arrived = [{} for _ in range(followers)]
    connected = threading.Barrier(followers + 1)

    def follow(n):
        connection = http.client.HTTPConnection("127.0.0.1", port)
        connection.request("GET", f"/v1/executions/{execution}/logs/stream", headers={"X-Api-Key": key})
        response = connection.getresponse()
        assert response.status == 200, response.status
        connected.wait()
        while line := response.readline():
            now = time.perf_counter()
            if line.startswith(b"id: "):
                arrived[n][int(line[4:])] = now
            elif line.startswith(b"event: end"):
                return

    threads = [threading.Thread(target=follow, args=(n,)) for n in range(followers)]
    for thread in threads:
        thread.start()
    connected.wait()
    time.sleep(0.2)
    sent, answered = {}, {}
    for seq in range(lines):
        sent[seq] = time.perf_counter()
        call(f"/v1/executions/{execution}/logs", [{"message": f"line {seq}"}])
        answered[seq] = time.perf_counter()
        time.sleep(0.01)
    call(f"/v1/executions/{execution}/end", {"status": "COMPLETED"})
    for thread in threads:
        thread.join(timeout=30)
    if any(len(seen) != lines for seen in arrived):
        raise SystemExit(f"lines missed: {[len(seen) for seen in arrived]}")
    print(json.dumps({
        "followers": followers,
        "lines": lines,
        "send_to_event_ms": percentiles([(seen[s] - sent[s]) * 1000 for seen in arrived for s in range(lines)]),
        "answer_to_event_ms": percentiles([(seen[s] - answered[s]) * 1000 for seen in arrived for s in range(lines)]),
    }))


if __name__ == "__main__":
    main()
