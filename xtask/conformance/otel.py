"""Sends logs to a real pipelog server with the OpenTelemetry Python SDK and its OTLP/HTTP
exporter (protobuf, gzip), then reads them back through pipelog's API.

Usage: otel.py PIPELOG_BINARY   (run with a Python that has opentelemetry-sdk and
opentelemetry-exporter-otlp-proto-http installed)
Exits non-zero, saying what differs, if a line is missing or wrong.
"""

import json
import logging
import os
import sys
import tempfile
import urllib.request

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from pipelog_server import start

KEY = "pl_otel_client_key_0123456789abcdef"
CID = "nightly-import-2026-11-22"


def call(base, path):
    request = urllib.request.Request(base + path)
    request.add_header("X-Api-Key", KEY)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def provider(base, attributes):
    """A logger provider exporting to pipelog as the SDK's users configure it."""
    exporter = OTLPLogExporter(
        endpoint=base + "/v1/logs",
        headers={"X-Api-Key": KEY},
        compression=Compression.Gzip,
    )
    logs = LoggerProvider(resource=Resource.create(attributes))
    logs.add_log_record_processor(BatchLogRecordProcessor(exporter))
    return logs


def python_logger(name, logs):
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=logs))
    return logger


def lines_of(base, cid):
    executions = call(base, "/v1/executions?limit=100")["data"]
    found = [execution for execution in executions if execution["cid"] == cid]
    if len(found) != 1:
        raise AssertionError(f"one execution with cid {cid} expected, got {executions}")
    execution = found[0]
    lines = call(base, f"/v1/executions/{execution['id']}/logs?limit=100")["data"]
    return execution, lines


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as scratch:
        server, base = start(binary, os.path.join(scratch, "data"), KEY)
        try:
            # Records that name their execution: pipelog.cid on the resource.
            named = provider(base, {"service.name": "orders-etl", "pipelog.cid": CID})
            logger = python_logger("etl.orders", named)
            logger.info("rows loaded", extra={"rows": 42, "table": "orders"})
            logger.warning("3 rows rejected")
            logger.error("target table locked")
            check(named.force_flush(30_000), "the SDK could not flush the first logs")
            named.shutdown()

            # Records that carry only their trace: the trace id names the execution.
            traced = provider(base, {"service.name": "orders-etl"})
            tracer = TracerProvider().get_tracer("etl")
            with tracer.start_as_current_span("load") as span:
                trace_id = format(span.get_span_context().trace_id, "032x")
                span_id = format(span.get_span_context().span_id, "016x")
                python_logger("etl.traced", traced).info("inside the span")
            check(traced.force_flush(30_000), "the SDK could not flush the traced log")
            traced.shutdown()

            execution, lines = lines_of(base, CID)
            check(execution["status"] == "RUNNING", f"a running execution: {execution}")
            check(execution["jobKey"] == "orders-etl", f"job from service.name: {execution}")
            got = [(line["message"], line["severity"]) for line in lines]
            expected = [("rows loaded", "info"), ("3 rows rejected", "warning"), ("target table locked", "error")]
            check(got == expected, f"lines {got}, expected {expected}")
            first = lines[0]
            check(first["emitterName"] == "etl.orders", f"emitter from the logger's name: {first}")
            attributes = first.get("attributes", {})
            check(attributes.get("rows") == 42 and attributes.get("table") == "orders", f"attributes kept: {first}")
            check(attributes.get("service.name") == "orders-etl", f"resource attributes kept: {first}")
            check("pipelog.cid" not in attributes, f"the routing attribute is not repeated: {first}")
            check(first.get("timestamp"), f"the record's time kept: {first}")

            execution, lines = lines_of(base, trace_id)
            check([line["message"] for line in lines] == ["inside the span"], f"traced lines: {lines}")
            check(lines[0]["eventCorrelationId"] == span_id, f"span id kept: {lines[0]}")
            check(lines[0]["attributes"]["trace_id"] == trace_id, f"trace id kept: {lines[0]}")
            print("otel: the OpenTelemetry Python SDK's logs arrived whole")
            return 0
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
