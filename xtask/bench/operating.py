"""Operating-log statistics over a period: loads OPERATIONS operations of about ten items
each (a publisher with a scope, the platform, two consumers, one of them validating), then
times the period's statistics, one operation's statistics and its Gantt chart.

Usage: operating.py PORT KEY OPERATIONS. Prints the figures as JSON.
"""

import http.client
import json
import statistics
import sys
import time
import uuid

BATCH = 1000


def main():
    port, key, operations = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(method, path, body=None):
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.status not in (200, 201):
            raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
        return data

    publishers = [str(uuid.uuid4()) for _ in range(5)]
    consumers = [str(uuid.uuid4()) for _ in range(20)]
    base = 1_790_000_000_000

    def stamp(millis):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"

    def items_of(number):
        operation = str(uuid.UUID(int=number + 1))
        publisher = publishers[number % len(publishers)]
        first, second = consumers[number % len(consumers)], consumers[(number * 7 + 3) % len(consumers)]
        t = base + number * 10_000
        span = 200 + number % 800

        def item(kind, activity, source, at, **extra):
            return {"operationId": operation, "operationType": kind, "activityType": activity,
                    "sourceId": source, "source": f"svc-{source[:4]}", "utcTimestamp": stamp(at),
                    "publisherSourceId": publisher if kind == "ConsumeData" else None, **extra}

        return [
            item("InputData", "Application|Start", publisher, t),
            item("InputData", "Application|Begin", publisher, t + 10, scopeId="upload"),
            item("InputData", "Application|End", publisher, t + 10 + span // 2, scopeId="upload"),
            item("InputData", "Application|Finish", publisher, t + span),
            item("Transform", "ProcessingResult", publisher, t + span + 50, message="Processed."),
            item("ConsumeData", "Application|Ack", first, t + span + 120),
            item("ConsumeData", "Application|Finish", first, t + span + 400),
            item("ConsumeData", "Application|Start", second, t + span + 150),
            item("ConsumeData", "Validation", second, t + span + 200, severity="Warning",
                 message="Record rejected: field 'Email' is invalid."),
            item("ConsumeData", "Application|Finish", second, t + span + 900),
        ]

    period_from = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    started = time.perf_counter()
    pending, written = [], 0
    for number in range(operations):
        pending.extend(items_of(number))
        if len(pending) >= BATCH or number == operations - 1:
            call("POST", "/api/v1/OperatingLogs/batch", json.dumps(pending).encode())
            written += len(pending)
            pending = []
    load_s = time.perf_counter() - started
    period = f"from={period_from}&to=2999-01-01T00:00:00Z"

    def timed(path, rounds):
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            data = call("GET", path)
            samples.append((time.perf_counter() - started) * 1000)
        return data, sorted(samples)

    data, period_ms = timed(f"/v1/operations/statistics?{period}", 5)
    answer = json.loads(data)
    if answer["operations"] != operations:
        raise SystemExit(f"statistics counted {answer['operations']} operations, not {operations}")
    _, filtered_ms = timed(f"/v1/operations/statistics?{period}&sourceId={consumers[0]}", 5)
    middle = str(uuid.UUID(int=operations // 2 + 1))
    _, one_ms = timed(f"/v1/operations/{middle}/statistics", 50)
    _, gantt_ms = timed(f"/v1/operations/{middle}/gantt", 50)
    _, list_ms = timed(f"/api/v1/OperatingLogs?operationScope=PublishDataWithConsumerFeedback&operationId={middle}", 50)

    print(json.dumps({
        "operations": operations,
        "items": written,
        "load_items_per_s": round(written / load_s),
        "period_statistics_ms": {"median": round(statistics.median(period_ms)), "max": round(period_ms[-1])},
        "period_statistics_one_source_ms": {"median": round(statistics.median(filtered_ms))},
        "operation_statistics_ms_p50": round(statistics.median(one_ms), 2),
        "gantt_ms_p50": round(statistics.median(gantt_ms), 2),
        "trace_list_ms_p50": round(statistics.median(list_ms), 2),
    }))


if __name__ == "__main__":
    main()
