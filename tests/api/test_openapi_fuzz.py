"""Schemathesis generates requests from the served OpenAPI document (valid ones and invalid
ones, one operation after another and in stateful chains) and checks every answer against it:
no 5xx, only documented status codes, content types and headers, bodies that match their
schemas, invalid input refused, auth not ignored, 405s that list the real methods."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.servers import make_key

#: Not checked: `positive_data_acceptance` expects every schema-valid request to succeed,
#: but a valid request can still be refused for what a timer is at the time (pause of an idle
#: timer, a change of a completed one: 422), which no static document can express.
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]


def test_the_served_document_holds_for_generated_requests(server, tmp_path):
    key = make_key(server.engine_url, plan="unlimited")
    schemathesis = Path(sys.executable).with_name("schemathesis")
    run = subprocess.run(
        [str(schemathesis), "run", f"{server.base}/api/v1/openapi.json",
         "-H", f"Authorization: Bearer {key}", *CHECKS, "--max-examples", "25",
         "--workers", "1", "--seed", "20261201", "--generation-database", "none",
         "--request-timeout", "10", "--no-color",
         # Revoking keys (the only operation at this path) would soon revoke the run's own
         # (stateful chains find its id in GET /keys), leaving every later request a 401;
         # tests/api/test_keys.py covers it.
         "--exclude-path", "/api/v1/keys/{key_id}"],
        capture_output=True, text=True, timeout=170, cwd=tmp_path)
    summary = run.stdout[-12000:]
    assert run.returncode == 0, summary
    assert " passed" in summary and "failures" not in summary, summary
