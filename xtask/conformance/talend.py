"""Runs schemathesis with Talend's Execution Logs document against a real pipelog server.

Usage: talend.py PIPELOG_BINARY SCHEMATHESIS_BINARY
Exits non-zero if schemathesis finds a response that breaks the document.
"""

import json
import os
import subprocess
import sys
import tempfile

from pipelog_server import call as call_with_key, start

KEY = "pl_conformance_key_0123456789abcdef"
HERE = os.path.dirname(os.path.abspath(__file__))
DOCUMENT = os.path.join(HERE, "talend-execution-logs-openapi.json")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def call(base, method, path, body=None):
    return call_with_key(base, KEY, method, path, body)


def main():
    binary, schemathesis = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as scratch:
        server, base = start(binary, os.path.join(scratch, "data"), KEY)
        try:
            execution = call(base, "POST", "/v1/executions", {"jobKey": "conformance"})["id"]
            lines = [{"message": f"line {n}", "severity": ["info", "warning", "error"][n % 3]} for n in range(300)]
            call(base, "POST", f"/v1/executions/{execution}/logs", lines)
            token = call(base, "POST", f"/monitoring/executions/{execution}/logs")["token"]

            with open(DOCUMENT) as file:
                document = json.load(file)
            for operations in document["paths"].values():
                for parameter in operations.get("parameters", []):
                    if parameter["name"] == "id":
                        parameter["example"] = execution
            status = document["paths"]["/monitoring/executions/{id}/logs/status"]["post"]
            status["requestBody"]["content"]["application/json"]["example"] = token
            schema = os.path.join(scratch, "talend.json")
            with open(schema, "w") as file:
                json.dump(document, file)

            command = [
                schemathesis, "run", schema,
                "--url", base,
                "--header", f"Authorization: Bearer {KEY}",
                "--checks", CHECKS,
                "--max-examples", "50",
                "--seed", "20261122",
            ]
            outcome = subprocess.run(command, cwd=scratch)
            return outcome.returncode
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
