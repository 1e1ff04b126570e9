"""The functions-framework edge only: the entry `gen` (local, Cloud Run functions, containers).

It translates the framework's request into `aiops.routes.Request`, calls `respond`, and
translates the answer back; the AWS Lambda entry is aiops/aws.py, which imports no web framework.
No business logic lives here. Under functions-framework, `BodyLimit`
wraps the WSGI app: it reads at most the body limit before anything else can read the body,
and answers the paths the framework would answer itself (README "Secrets and limits").
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

import click
import flask
import functions_framework

from aiops.routes import Request, request_id, respond, start


def _served_at() -> tuple[str, int] | None:
    """Where the functions-framework command will listen, when it is the one importing us."""
    context = click.get_current_context(silent=True)
    params = context.params if context is not None else {}
    if "host" in params and "port" in params:
        return str(params["host"]), int(params["port"])
    return None


# The process's app, made once when functions-framework imports this file.
APP = start(_served_at(), os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def _read_limited(request: Any, limit: int) -> bytes | None:
    """The body, or None when it is over the limit (not read past limit + 1 bytes)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    body = request.stream.read(limit + 1)
    return None if len(body) > limit else body


# Paths functions-framework answers itself (an HTML 404), never calling `gen`; and Flask's
# static files, served should a `static/` folder ever sit next to this file.
FRAMEWORK_PATHS = frozenset({"/robots.txt", "/favicon.ico"})
FRAMEWORK_PREFIXES = ("/static/",)
_CHUNK = 64 * 1024


def _environ_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def _bounded_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The body, or None when it is over `limit`: never more than limit + 1 bytes are read."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        return None
    stream = environ.get("wsgi.input")
    # As werkzeug reads it: a declared length, or a server that ends the stream itself
    # (gunicorn, for chunked bodies too); else there is no body to read.
    if stream is None or not (declared.isdigit() or environ.get("wsgi.input_terminated")):
        return b""
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = stream.read(min(_CHUNK, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > limit else b"".join(parts)


class _ThenClose:
    """An answer's body after which the connection ends: once the answer is sent, the write
    side is shut (the client reads the answer, then end of stream) and gunicorn, finding the
    unread body, drains at most 64 KiB of it and closes; the kernel then resets the connection,
    so the client's upload stops there. Only the write side: shutting the read side too stops
    the kernel from reopening the receive window, and a socket closed with an empty queue and
    a zero window waits out the FIN-WAIT-2 timeout (60 s) while the client's send blocks."""

    def __init__(self, chunks: Iterable[bytes], environ: dict[str, Any]) -> None:
        self.chunks = chunks
        self.environ = environ

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        close = getattr(self.chunks, "close", None)
        if close is not None:
            close()
        sock = self.environ.get("gunicorn.socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # the client is gone already
                sock.shutdown(socket.SHUT_WR)


class BodyLimit:
    """WSGI middleware around functions-framework's app: the body is read here, at most
    AIOPS_MAX_BODY_BYTES + 1 bytes of it, and handed on as a buffer the framework's own
    after-request hook (which reads whatever is left of a body) can drain for free. An
    oversized body is answered 413 here, and the connection closed without reading the rest.
    The paths the framework answers itself are answered here, as every other answer is."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO") or "/"
        body = _bounded_body(environ, APP.settings.max_body_bytes)
        if body is None:
            post = environ.get("REQUEST_METHOD", "").upper() == "POST"
            chunks = self.answer(environ, start_response, None if post else b"")
            return _ThenClose(chunks, environ)
        if path in FRAMEWORK_PATHS or path.startswith(FRAMEWORK_PREFIXES):
            return self.answer(environ, start_response, body)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input_terminated"] = True
        return self.app(environ, start_response)

    @staticmethod
    def answer(
        environ: dict[str, Any], start_response: Callable[..., Any], body: bytes | None
    ) -> list[bytes]:
        headers = _environ_headers(environ)
        request = Request(
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO") or "/",
            headers,
            body,
            request_id(headers),
        )
        answer = respond(request, APP)
        status = f"{answer.status} {HTTPStatus(answer.status).phrase}"
        start_response(status, [*answer.headers.items(), ("Content-Length", str(len(answer.body)))])
        return [answer.body]


def _install_body_limit() -> None:
    """functions-framework imports this file inside its app's context: wrap that app."""
    if flask.has_app_context():
        app = flask.current_app._get_current_object()  # type: ignore[attr-defined]
        if not isinstance(app.wsgi_app, BodyLimit):
            app.wsgi_app = BodyLimit(app.wsgi_app)


_install_body_limit()


@functions_framework.http
def gen(request: Any) -> tuple[bytes, int, dict[str, str]]:
    """functions-framework (local, Cloud Run functions, containers): every path comes here."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    limit = APP.settings.max_body_bytes
    body = _read_limited(request, limit) if request.method == "POST" else b""
    answer = respond(Request(request.method, request.path, headers, body, request_id(headers)), APP)
    return answer.body, answer.status, answer.headers
