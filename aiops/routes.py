"""The HTTP contract shared by every entry point (functions-framework, Lambda): routing on
method and path, the body limit, CORS, request validation, key resolution, and turning errors
into JSON answers. The entry points in handler.py only translate their platform's shapes.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from aiops import logs
from aiops.api import ApiError, GenRequest
from aiops.service import Generation
from aiops.settings import Settings, get_settings
from aiops.store import get_store

log = logging.getLogger("aiops.request")

JSON_TYPE = "application/json; charset=utf-8"
GEN_PATHS = frozenset({"/", "/gen"})
PREFLIGHT_MAX_AGE = "3600"
# Printable ASCII without spaces: what goes into the provider's Authorization header.
_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,1024}")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # keys lower-case
    body: bytes | None  # None: larger than the limit, not read
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


# What the page's script may read of an answer besides the simple headers.
EXPOSED_HEADERS = "Retry-After, X-Request-Id"


def cors_headers(origin: str | None, settings: Settings) -> dict[str, str]:
    allowed = settings.cors_origins
    if "*" in allowed:
        return {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        }
    if origin and origin in allowed:
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": EXPOSED_HEADERS,
            "Vary": "Origin",
        }
    return {"Vary": "Origin"}


def json_response(status: int, payload: Any, extra: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": JSON_TYPE, **(extra or {})})


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body(), error.headers())


def parse_request(body: bytes | None, settings: Settings) -> GenRequest:
    if body is None:
        raise ApiError(
            "payload_too_large",
            f"The request body is larger than {settings.max_body_bytes} bytes; "
            "shorten the pasted text.",
        )
    data = parsed_json(body)
    if not isinstance(data, dict):
        raise ApiError("invalid_request", "The body must be a JSON object.")
    try:
        request = GenRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    if len(request.user_input) > settings.max_input_chars:
        raise ApiError(
            "invalid_request",
            f"user_input has {len(request.user_input)} characters; at most "
            f"{settings.max_input_chars} are allowed.",
            "user_input",
        )
    return request


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parsed_json(body: bytes) -> Any:
    """Strict JSON (no NaN/Infinity, valid Unicode, sanely nested), else a 400."""
    try:
        data = json.loads(body, parse_constant=_no_constants)
        # A lone surrogate ("\ud800") parses, but is no text: it could not be sent on or stored.
        json.dumps(data, ensure_ascii=False).encode()
    except RecursionError:
        raise ApiError("invalid_request", "The body is nested too deeply.") from None
    except UnicodeError:
        raise ApiError(
            "invalid_request", "The body holds text that is not valid Unicode."
        ) from None
    except ValueError as exc:
        raise ApiError("invalid_request", f"The body is not valid JSON ({exc}).") from None
    return data


def validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    if first["type"] == "missing":
        message = f"{where} is required."
    else:
        message = f"{where}: {first['msg']}." if where else f"{first['msg']}."
    return ApiError("invalid_request", message, where)


def resolve_key(request: GenRequest, headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    key = request.openai_token or (token.strip() if scheme.lower() == "bearer" else "")
    if key:
        if not _KEY_SHAPE.fullmatch(key):
            raise ApiError(
                "invalid_request",
                "The API key has characters no key has (spaces, line breaks or non-ASCII); "
                "copy it again.",
                "openai_token",
            )
        return key
    raise ApiError(
        "missing_token",
        "No API key: send openai_token in the body or an 'Authorization: Bearer <key>' header.",
        "openai_token",
    )


def generate(request: Request, settings: Settings, facts: dict[str, Any]) -> Response:
    gen_request = parse_request(request.body, settings)
    api_key = resolve_key(gen_request, request.headers)
    generation = Generation(gen_request, api_key, settings, get_store(settings))
    try:
        answer = generation.run()
    finally:
        trace = generation.trace
        facts.update(
            model=trace.model,
            llm_calls=trace.usage.llm_calls,
            usage=trace.usage.model_dump(exclude={"llm_calls"}),
            history_turns=trace.history_turns,
            history=trace.history_turns > 0,
            retried=trace.retried,
        )
        if trace.provider:  # where the model provider was and why it could not be reached
            facts["provider"] = trace.provider
    return json_response(200, answer.model_dump(mode="json"))


def route(request: Request, settings: Settings, facts: dict[str, Any]) -> Response:
    method, path = request.method.upper(), request.path.rstrip("/") or "/"
    if method == "OPTIONS":
        return Response(
            204,
            headers={
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type, Authorization",
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            },
        )
    if path == "/healthz":
        if method in ("GET", "HEAD"):
            return json_response(200, {"status": "ok"})
        raise ApiError(
            "method_not_allowed",
            f"{method} is not allowed on /healthz; use GET.",
            allow="GET, HEAD, OPTIONS",
        )
    if method != "POST":
        raise ApiError(
            "method_not_allowed",
            f"{method} is not allowed; POST a JSON body to /gen.",
            allow="POST, OPTIONS",
        )
    if path not in GEN_PATHS:
        raise ApiError("not_found", f"No such endpoint {path!r}; POST to /gen.")
    return generate(request, settings, facts)


def respond(request: Request) -> Response:
    """Serve one HTTP request; never raises, never answers with a stack trace."""
    started = time.perf_counter()
    settings = get_settings()
    facts: dict[str, Any] = {}
    fault: BaseException | None = None  # logged with its traceback on the request line
    try:
        response = route(request, settings, facts)
    except ApiError as error:
        response = error_response(error)
        facts["error"] = error.code
    except Exception as exc:
        fault = exc
        response = error_response(
            ApiError("internal_error", "Something went wrong on our side; try again.")
        )
        facts["error"] = "internal_error"
    response.headers.update(cors_headers(request.headers.get("origin"), settings))
    response.headers["X-Request-Id"] = request.request_id
    if request.method.upper() == "HEAD":
        response.body = b""
    log.log(
        logs.level_for(response.status),
        "request",
        exc_info=fault,
        extra=logs.request_fields(
            {
                "request_id": request.request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                **facts,
            }
        ),
    )
    return response
