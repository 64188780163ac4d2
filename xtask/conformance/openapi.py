"""pipelog's own OpenAPI document against a real pipelog server.

Validates what the server serves at /openapi.json against the OpenAPI 3.1 specification
(openapi-spec-validator), checks that /docs serves the reference without loading anything
from elsewhere, then runs schemathesis with the document against the server, its path
examples pointed at real executions, operations and items so that successful answers are
checked too: no 5xx, every status code and content type documented, every body matching
its schema.

Usage: openapi.py PIPELOG_BINARY SCHEMATHESIS_BINARY [--deep]

By default schemathesis runs its example and fuzzing phases, 15 examples an operation
(about half a minute); `--deep` adds its coverage and stateful phases with 30 examples
(about five minutes).
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.request
import uuid

from openapi_spec_validator import validate

from pipelog_server import call as call_with_key, start

KEY = "pl_openapi_check_key_0123456789abcdef"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# The claim waits up to 30 s for a queued run by design: fuzzing it measures the wait.
EXCLUDED = ["/v1/executions/claim"]


def call(base, method, path, body=None):
    return call_with_key(base, KEY, method, path, body)


def fixtures(base):
    """Data for the examples: an execution with lines, an operation with an item."""
    execution = call(base, "POST", "/v1/executions", {"jobKey": "openapi-check"})["id"]
    lines = [{"message": f"line {n}", "severity": "info"} for n in range(50)]
    call(base, "POST", f"/v1/executions/{execution}/logs", lines)
    operation = str(uuid.uuid4())
    item = call(base, "POST", "/api/v1/OperatingLogs", {
        "operationId": operation,
        "operationType": "InputData",
        "activityType": "Application|Start",
        "severity": "Info",
        "source": "openapi-check",
    })["id"]
    return {"execution": execution, "operation": operation, "item": item}


def with_examples(document, ids):
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path":
                    continue
                if parameter["name"] == "operation_id":
                    parameter["example"] = ids["operation"]
                elif parameter["name"] == "id" and path.startswith("/api/v1/OperatingLogs"):
                    parameter["example"] = ids["item"]
                elif parameter["name"] == "id" and "/executions/" in path:
                    parameter["example"] = ids["execution"]
    return document


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return response.read()


def main():
    binary, schemathesis = sys.argv[1], sys.argv[2]
    deep = "--deep" in sys.argv[3:]
    with tempfile.TemporaryDirectory() as scratch:
        server, base = start(binary, os.path.join(scratch, "data"), KEY)
        try:
            document = json.loads(get(base, "/openapi.json"))
            validate(document)
            operations = sum(len(item) for item in document["paths"].values())
            page = get(base, "/docs/").decode()
            if "swagger-ui" not in page or 'src="http' in page:
                raise AssertionError("/docs does not serve the reference from the binary")
            print(f"openapi: the document is valid OpenAPI {document['openapi']} ({operations} operations)")

            schema = os.path.join(scratch, "pipelog.json")
            with open(schema, "w") as file:
                json.dump(with_examples(document, fixtures(base)), file)
            command = [
                schemathesis, "run", schema,
                "--url", base,
                "--header", f"X-Api-Key: {KEY}",
                "--checks", CHECKS,
                "--max-examples", "30" if deep else "15",
                "--phases", "examples,coverage,fuzzing,stateful" if deep else "examples,fuzzing",
                "--seed", "20261122",
            ]
            for path in EXCLUDED:
                command += ["--exclude-path", path]
            return subprocess.run(command, cwd=scratch).returncode
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
