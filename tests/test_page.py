"""The service serves the reference page (aiops/page.py, the GET routes of aiops/routes.py):
exactly examples/index.html at / and examples/aiops-client.js next to it, with their content
types and headers, through functions-framework and through the Lambda entry; nothing else.
(tests/test_browser.py drives the page itself in a real browser.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from aiops import page
from aiops.form import FIELDS
from tests.fixtures.app import ROOT

EXAMPLES = ROOT / "examples"
EVENT = ROOT / "tests" / "data" / "events" / "get_healthz.event.json"


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_get_root_is_the_page(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.data == (EXAMPLES / "index.html").read_bytes()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Request-Id"]


def test_the_policy_allows_exactly_the_pages_inline_script_and_style(client: Any) -> None:
    html = (EXAMPLES / "index.html").read_text(encoding="utf-8")
    (script,) = re.findall(r'<script type="module">(.*?)</script>', html, re.DOTALL)
    (style,) = re.findall(r"<style>(.*?)</style>", html, re.DOTALL)
    policy = dict(
        part.strip().split(" ", 1)
        for part in client.get("/").headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == f"'self' {sha256(script)}"
    assert policy["style-src"] == sha256(style)
    # The service's copy talks only to the service that served it.
    assert policy["connect-src"] == "'self'"
    assert policy["form-action"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


def test_get_the_client_module(client: Any) -> None:
    response = client.get("/aiops-client.js")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.data == (EXAMPLES / "aiops-client.js").read_bytes()
    assert "Content-Security-Policy" not in response.headers


def test_head_has_the_headers_and_no_body(client: Any) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.data == b""


def test_the_page_is_allowed_cross_origin_like_every_answer(client: Any) -> None:
    response = client.get("/aiops-client.js", headers={"Origin": "https://cloud.sealos.io"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "path", ["/index.html", "/examples/index.html", "/examples/aiops-client.js", "/README.md"]
)
def test_nothing_else_is_served(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 405
    assert response.get_json()["code"] == "method_not_allowed"


def test_other_methods_on_the_page_paths(client: Any, model: Any) -> None:
    put = client.put("/")
    assert put.status_code == 405
    assert put.headers["Allow"] == "GET, HEAD, POST, OPTIONS"
    for method in ("POST", "PUT", "DELETE"):
        answer = client.open("/aiops-client.js", method=method, data=b"{}")
        assert answer.status_code == 405, method
        assert answer.get_json()["code"] == "method_not_allowed"
        assert answer.headers["Allow"] == "GET, HEAD, OPTIONS"
    # POST / still generates (Cloud Run functions deliver the function's URL as /).
    answer = client.post("/", data=b'{"user_input": "x", "params": {}}')
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "missing_token"
    assert model.requests == []


def test_get_gen_is_still_not_allowed(client: Any) -> None:
    response = client.get("/gen")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_lambda_serves_the_page_too(service_env: Any) -> None:
    from aiops import aws

    event = json.loads(EVENT.read_text(encoding="utf-8"))
    for path, name, content_type in [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/aiops-client.js", "aiops-client.js", "text/javascript; charset=utf-8"),
    ]:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        answer = json.loads(json.dumps(aws.lambda_handler(event, None)))
        assert answer["statusCode"] == 200, answer
        assert answer["headers"]["Content-Type"] == content_type
        assert answer["body"] == (EXAMPLES / name).read_text(encoding="utf-8")
        assert answer["isBase64Encoded"] is False


def test_a_deployment_without_the_files_answers_404(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(page, "EXAMPLES_DIR", tmp_path)
    page.asset.cache_clear()
    try:
        response = client.get("/")
        assert response.status_code == 404
        body = response.get_json()
        assert body["code"] == "not_found"
        assert "examples/" in body["error"]
    finally:
        page.asset.cache_clear()


def test_the_client_knows_the_forms_twelve_fields_in_the_services_order() -> None:
    source = (ROOT / "examples" / "aiops-client.js").read_text()
    listed = re.search(r"export const FIELDS = Object\.freeze\(\[(.*?)\]\)", source, re.S)
    assert listed is not None
    assert tuple(re.findall(r'"(\w+)"', listed[1])) == FIELDS
