"""Real HTTP for the AWS tests: moto's server on 127.0.0.1, and a fault injector in front of it.

The injector only changes what the service answers (throttling, FAILED, bytes scanned);
pyathena, boto3 and botocore run unchanged, over the wire.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests

ACCOUNT = "123456789012"
REGION = "eu-central-1"


def seed_results(moto_url: str, rows: list[list[str]], types: list[str]) -> None:
    """Queue one result set in moto (first in, first out); rows[0] are the column names."""
    column_info = [
        {
            "CatalogName": "hive",
            "SchemaName": "",
            "TableName": "",
            "Name": name,
            "Label": name,
            "Type": typ,
            "Precision": 3 if typ == "timestamp" else 2147483647,
            "Scale": 0,
            "Nullable": "UNKNOWN",
            "CaseSensitive": True,
        }
        for name, typ in zip(rows[0], types, strict=True)
    ]
    body = {
        "account_id": ACCOUNT,
        "region": REGION,
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "column_info": column_info,
            }
        ],
    }
    requests.post(
        f"{moto_url}/moto-api/static/athena/query-results", json=body, timeout=10
    ).raise_for_status()


def keep_queries_running(moto_url: str, polls: int) -> None:
    """Moto's state manager: executions stay QUEUED/RUNNING for `polls` status requests."""
    requests.post(
        f"{moto_url}/moto-api/state-manager/set-transition",
        json={
            "model_name": "athena::execution",
            "transition": {"progression": "manual", "times": polls},
        },
        timeout=10,
    ).raise_for_status()


def reset_transitions(moto_url: str) -> None:
    requests.post(
        f"{moto_url}/moto-api/state-manager/unset-transition",
        json={"model_name": "athena::execution"},
        timeout=10,
    ).raise_for_status()


class FaultProxy:
    """Forwards to moto; can throttle the first N StartQueryExecution calls, fail queries,
    or report bytes scanned, as real Athena does and moto does not."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.throttle_starts = 0
        self.fail_with: str | None = None
        self.scanned_bytes: int | None = None
        self.calls: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                proxy.calls.append(target)
                if target == "StartQueryExecution" and proxy.throttle_starts > 0:
                    proxy.throttle_starts -= 1
                    return self._send(
                        400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
                    )
                status, headers, data = proxy.forward(
                    self.command, self.path, dict(self.headers), body
                )
                if target == "GetQueryExecution" and status == 200:
                    doc = json.loads(data)
                    execution = doc["QueryExecution"]
                    if proxy.fail_with:
                        execution["Status"]["State"] = "FAILED"
                        execution["Status"]["StateChangeReason"] = proxy.fail_with
                    if proxy.scanned_bytes is not None:
                        execution["Statistics"]["DataScannedInBytes"] = proxy.scanned_bytes
                        execution["Statistics"]["EngineExecutionTimeInMillis"] = 1234
                    data = json.dumps(doc).encode()
                self._send(status, data, headers)

            def _send(self, status, payload, headers=None):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type",
                    (headers or {}).get("Content-Type", "application/x-amz-json-1.1"),
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_DELETE = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}
        headers["Host"] = self.upstream.netloc
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()

    def reset(self) -> None:
        self.throttle_starts = 0
        self.fail_with = None
        self.scanned_bytes = None
        self.calls.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
