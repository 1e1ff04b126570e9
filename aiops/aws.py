"""The AWS Lambda edge: `lambda_handler` behind an API Gateway HTTP API (payload format 2.0).

It translates the event into `aiops.routes.Request`, calls `respond`, and translates the answer
back. It imports no web framework, so the Lambda package ships none (README "Deploy").
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from aiops.routes import Request, request_id, respond, start

# The process's app, made once at the cold start and used by every invocation.
APP = start(None, os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def _event_body(event: dict[str, Any], limit: int) -> bytes | None:
    """The body's bytes, or None when they are over `limit`.

    A base64 body that does not decode is answered like any body that is not JSON (400).
    """
    raw = event.get("body") or ""
    if not isinstance(raw, str):
        raw = json.dumps(raw)  # a hand-written test event may hold the object itself
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            body = b"\xff"  # never JSON
    else:
        # surrogatepass: a lone surrogate (a JSON event can hold one) must not crash the
        # adapter; it goes on as the bytes an HTTP client would have sent.
        body = raw.encode("utf-8", "surrogatepass")
    return None if len(body) > limit else body


def _event_path(event: dict[str, Any]) -> str:
    """The request's path without the stage: on a named stage (not `$default`), an HTTP API's
    rawPath starts with `/<stage>`."""
    context = event.get("requestContext") or {}
    path = event.get("rawPath") or (context.get("http") or {}).get("path") or "/"
    stage = context.get("stage")
    if stage and stage != "$default" and (path == f"/{stage}" or path.startswith(f"/{stage}/")):
        path = path[len(stage) + 1 :] or "/"
    return path


def lambda_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """One API Gateway HTTP API event in, its answer out."""
    request_context = event.get("requestContext") or {}
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    request = Request(
        method=(request_context.get("http") or {}).get("method", "GET").upper(),
        path=_event_path(event),
        headers=headers,
        body=_event_body(event, APP.settings.max_body_bytes),
        request_id=request_id(headers, request_context.get("requestId")),
    )
    answer = respond(request, APP)
    return {
        "statusCode": answer.status,
        "headers": answer.headers,
        "body": answer.body.decode(),
        "isBase64Encoded": False,
    }
