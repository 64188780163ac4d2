"""Validates the OpenAPI document a real pipelog server serves at /openapi.json against the
OpenAPI 3.1 specification (openapi-spec-validator), and checks that /docs serves the
reference without loading anything from elsewhere.

Usage: openapi.py PIPELOG_BINARY
"""

import json
import os
import sys
import tempfile
import urllib.request

from openapi_spec_validator import validate

from pipelog_server import start

KEY = "pl_openapi_check_key_0123456789abcdef"


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return response.read()


def main():
    binary = sys.argv[1]
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
            return 0
        finally:
            server.terminate()
            server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
