#!/usr/bin/env bash
# Single-entry ingest (32 connections, 8 s) on a fresh server, then again while a
# 1,000,000-line execution is deleted and its rows purged. Usage: purge.sh BINARY
set -euo pipefail
binary=$1 port=18501 key=pl_bench_key_0123456789abcdef
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cat > "$scratch/single.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"message":"Import completed successfully","emitterName":"My import job","eventCorrelationId":"evt-123","severity":"info"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = "$key"
wrk.headers["cid"] = "bench-single-entry"
LUA
PIPELOG_BOOTSTRAP_KEY=$key "$binary" serve --listen 127.0.0.1:$port --data-dir "$scratch/data" --log warn 2>/dev/null &
server=$!
sleep 1
execution=$(python3 "$here/load.py" 127.0.0.1 $port $key 1000000 | python3 -c "import json,sys; print(json.load(sys.stdin)['execution'])")
ingest() { wrk -t1 -c32 -d8s --latency -s "$scratch/single.lua" http://127.0.0.1:$port/v1/data-factory/log; }
pick() {
  if grep -q "Non-2xx" <<<"$1"; then echo "requests failed: $1" >&2; exit 1; fi
  echo "$(awk '/Requests\/sec/{print $2}' <<<"$1") req/s, p50 $(awk '$1=="50%"{print $2}' <<<"$1"), p99 $(awk '$1=="99%"{print $2}' <<<"$1")"
}
baseline=$(ingest)
ingest > "$scratch/during" &
load=$!
sleep 1
curl -sf -o /dev/null -X DELETE "http://127.0.0.1:$port/monitoring/executions/$execution/logs" -H "Authorization: Bearer $key"
python3 - "$scratch/data/pipelog.db" "$execution" <<'PY'
import sqlite3, sys, time, uuid
started = time.time()
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
while True:
    purged, first = db.execute("SELECT purged_below, first_seq FROM executions WHERE public_id = ?", (uuid.UUID(sys.argv[2]).bytes,)).fetchone()
    if purged >= first:
        break
    time.sleep(0.02)
print(f"purged 1,000,000 rows in {time.time() - started:.2f} s")
PY
wait $load
echo "ingest alone:       $(pick "$baseline")"
echo "ingest during purge: $(pick "$(cat "$scratch/during")")"
kill -TERM $server
wait $server
