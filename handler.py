"""The edges only: the functions-framework entry `gen` and the AWS Lambda entry `lambda_handler`.

Both translate their platform's request into `aiops.routes.Request`, call `respond`, and
translate the answer back. No business logic lives here.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import uuid
from typing import Any

import click
import functions_framework

from aiops import logs, service
from aiops.routes import Request, Response, respond
from aiops.settings import SettingsError, get_settings


def _served_at() -> tuple[str, int] | None:
    """Where the functions-framework command will listen, when it is the one importing us."""
    context = click.get_current_context(silent=True)
    params = context.params if context is not None else {}
    if "host" in params and "port" in params:
        return str(params["host"]), int(params["port"])
    return None


def _start() -> None:
    """Settings, logs, warm caches, one line saying where it serves. A bad setting stops the
    start with one JSON line naming the variable (no traceback) and exit status 2."""
    try:
        settings = get_settings()
    except SettingsError as error:
        logs.configure()
        logging.getLogger("aiops.start").critical(str(error))
        raise SystemExit(2) from None
    logs.configure(settings.log_level)
    service.warm_up(settings)
    logs.log_start(_served_at(), os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


_start()


def _request_id(headers: dict[str, str], fallback: str | None = None) -> str:
    given = headers.get("x-request-id") or headers.get("x-cloud-trace-context", "").split("/")[0]
    return (given or fallback or uuid.uuid4().hex)[:64]


def _read_limited(request: Any, limit: int) -> bytes | None:
    """The body, or None when it is over the limit (not read past limit + 1 bytes)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


@functions_framework.http
def gen(request: Any) -> tuple[bytes, int, dict[str, str]]:
    """functions-framework (local, Cloud Run functions, containers): every path comes here."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    limit = get_settings().max_body_bytes
    body = _read_limited(request, limit) if request.method == "POST" else b""
    answer = respond(Request(request.method, request.path, headers, body, _request_id(headers)))
    return answer.body, answer.status, answer.headers


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
    """AWS Lambda behind an API Gateway HTTP API (payload format 2.0)."""
    request_context = event.get("requestContext") or {}
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    request = Request(
        method=(request_context.get("http") or {}).get("method", "GET").upper(),
        path=_event_path(event),
        headers=headers,
        body=_event_body(event, get_settings().max_body_bytes),
        request_id=_request_id(headers, request_context.get("requestId")),
    )
    answer: Response = respond(request)
    return {
        "statusCode": answer.status,
        "headers": answer.headers,
        "body": answer.body.decode(),
        "isBase64Encoded": False,
    }
