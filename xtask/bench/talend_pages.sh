#!/usr/bin/env bash
# p50/p99 of 200-line Talend pages of one execution, one connection, 10 s each.
# Usage: talend_pages.sh PORT EXECUTION START END (START, END: times inside the log).
set -euo pipefail
port=$1 execution=$2 start=$3 end=$4
key=pl_bench_key_0123456789abcdef
base=http://127.0.0.1:$port/monitoring/executions/$execution/logs
for query in "count=200" "count=200&startIndex=900000" \
    "count=200&order=ASC" "count=200&order=ASC&startIndex=900000" \
    "count=200&startTime=$start&endTime=$end" "count=200&startTime=$start&endTime=$end&startIndex=50000"; do
  out=$(wrk -t1 -c1 -d10s --latency -H "Authorization: Bearer $key" "$base?$query")
  echo "$query p50=$(awk '$1=="50%"{print $2}' <<<"$out") p99=$(awk '$1=="99%"{print $2}' <<<"$out")"
done
