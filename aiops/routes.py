"""The HTTP contract shared by every entry point (functions-framework, Lambda): routing on
method and path, the body limit, CORS, request validation, key resolution, and turning errors
into JSON answers; and what both entry points do once per process (`start`). The entry points
(handler.py for functions-framework, aiops/aws.py for AWS Lambda) only translate their
platform's shapes; each makes the process's app (`start`) and passes it to `respond`.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from aiops import bounds, logs, page
from aiops.api import ApiError, GenRequest
from aiops.app import App
from aiops.messages import Lang, language, text
from aiops.service import Generation
from aiops.settings import Settings, SettingsError, read_settings, unknown_settings

log = logging.getLogger("aiops.request")

JSON_TYPE = "application/json; charset=utf-8"
GEN_PATHS = frozenset({"/", "/gen"})
PREFLIGHT_MAX_AGE = "3600"
# Printable ASCII without spaces: what goes into the provider's Authorization header. At most
# KEY_MAX_CHARS (openapi.yaml's maxLength of openai_token): room for JWT-style gateway tokens.
_KEY_SHAPE = re.compile(r"[\x21-\x7e]+")
KEY_MAX_CHARS = 4096


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


def start(served_at: tuple[str, int] | None = None, function_name: str | None = None) -> App:
    """The process's app (settings, store, provider clients, catalogue), logs configured and
    warmed up, and one line saying where it serves. A bad setting stops the start with one
    JSON line naming the variable (no traceback) and exit status 2."""
    try:
        settings = read_settings()
    except SettingsError as error:
        logs.configure()
        logging.getLogger("aiops.start").critical(str(error))
        raise SystemExit(2) from None
    logs.configure(settings.log_level)
    for warning in unknown_settings():
        logging.getLogger("aiops.start").warning(warning)
    app = App.from_settings(settings)  # after the logs: the in-memory store's warning is one
    app.warm_up()
    logs.log_start(served_at, function_name)
    return app


def request_id(headers: Mapping[str, str], fallback: str | None = None) -> str:
    """The caller's (or the platform's) id, as printable ASCII of at most 64 characters: it is
    echoed in a header, so nothing else of it is kept."""
    given = headers.get("x-request-id") or headers.get("x-cloud-trace-context", "").split("/")[0]
    given = "".join(char for char in given if "!" <= char <= "~")
    return (given or fallback or uuid.uuid4().hex)[:64]


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


def error_response(error: ApiError, lang: Lang = "en") -> Response:
    return json_response(error.status, error.body(lang), error.headers())


def request_language(request: Request) -> Lang:
    """The language of an error answer: Chinese when the body's user_input (if it can be read)
    is Chinese or Accept-Language prefers zh, else English."""
    return language(_readable_user_input(request.body), request.headers.get("accept-language"))


def _readable_user_input(body: bytes | None) -> str | None:
    try:
        data = json.loads(body) if body else None
    except Exception:  # any body that is no JSON: there is no user_input to read
        return None
    user_input = data.get("user_input") if isinstance(data, dict) else None
    return user_input if isinstance(user_input, str) else None


def parse_request(body: bytes | None, settings: Settings) -> GenRequest:
    if body is None:
        raise ApiError("payload_too_large", text("body_too_large", max=settings.max_body_bytes))
    data = parsed_json(body)
    if not isinstance(data, dict):
        raise ApiError("invalid_request", text("body_not_object"))
    try:
        request = GenRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    if len(request.user_input) > settings.max_input_chars:
        raise ApiError(
            "invalid_request",
            text("input_too_long", count=len(request.user_input), max=settings.max_input_chars),
            "user_input",
        )
    return request


class _Constant(ValueError):
    """`NaN`, `Infinity` or `-Infinity` in a body: Python reads them, JSON has no such value."""


def _no_constants(name: str) -> None:
    raise _Constant(name)


# The JSON decoder's reasons (its English words), as message ids (README "Warnings and messages").
JSON_REASONS = {
    "Expecting value": "json_expecting_value",
    "Expecting property name enclosed in double quotes": "json_property_name",
    "Expecting ':' delimiter": "json_colon",
    "Expecting ',' delimiter": "json_comma",
    "Unterminated string starting at": "json_unterminated_string",
    "Extra data": "json_extra_data",
    "Invalid control character at": "json_control_character",
    "Invalid \\escape": "json_bad_escape",
    "Invalid \\uXXXX escape": "json_bad_escape",
    # Python 3.13 and later name a trailing comma (3.11 and 3.12 say "Expecting value").
    "Illegal trailing comma before end of array": "json_trailing_comma",
    "Illegal trailing comma before end of object": "json_trailing_comma",
}


def not_json(error: ValueError) -> ApiError:
    """The 400 of a body that is no JSON, saying where and why in the request's language (a
    reason the table does not know is said in general words, never in the decoder's English)."""
    if isinstance(error, _Constant):
        message = text("body_json_constant", name=str(error))
    elif isinstance(error, json.JSONDecodeError):
        reason = text(JSON_REASONS.get(error.msg, "json_malformed"))
        message = text("body_not_json", reason=reason, line=error.lineno, column=error.colno)
    else:  # a number of more digits than Python converts (sys.get_int_max_str_digits)
        message = text("body_json_number_too_long")
    return ApiError("invalid_request", message)


def parsed_json(body: bytes) -> Any:
    """Strict JSON (no NaN/Infinity, no number out of range, valid Unicode, at most
    `bounds.MAX_DEPTH` levels deep), else a 400 naming the field."""
    try:
        data = json.loads(body, parse_constant=_no_constants)
        problem = bounds.first_problem(data)
        if problem is not None:
            where, what = problem
            raise ApiError(
                "invalid_request",
                text("body_value_problem", where=where or text("the_body"), what=what),
                where or None,
            )
        # A lone surrogate ("\ud800") parses, but is no text: it could not be sent on or stored.
        json.dumps(data, ensure_ascii=False).encode()
    except RecursionError:
        raise ApiError("invalid_request", text("body_too_deep")) from None
    except UnicodeError:
        raise ApiError("invalid_request", text("body_not_unicode")) from None
    except ValueError as exc:
        raise not_json(exc) from None
    return data


def validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    kind = first["type"]
    if kind in _VALIDATION_MESSAGES:
        message = text(_VALIDATION_MESSAGES[kind], field=str(where), **(first.get("ctx") or {}))
    elif kind == "user_input_empty":
        message = text("user_input_empty")
    else:
        detail = first["msg"]
        message = (
            text("field_invalid", field=where, detail=detail)
            if where
            else text("body_invalid", detail=detail)
        )
    return ApiError("invalid_request", message, where)


# pydantic's error types with a message of ours (else its English text is shown)
_VALIDATION_MESSAGES = {
    "missing": "field_required",
    "string_type": "field_not_string",
    "dict_type": "field_not_object",
    "string_too_long": "field_too_long",
}


def resolve_key(request: GenRequest, headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    key = request.openai_token or (token.strip() if scheme.lower() == "bearer" else "")
    if key:
        if len(key) > KEY_MAX_CHARS:
            raise ApiError(
                "invalid_request",
                text("key_too_long", count=len(key), max=KEY_MAX_CHARS),
                "openai_token",
            )
        if not _KEY_SHAPE.fullmatch(key):
            raise ApiError("invalid_request", text("key_bad_characters"), "openai_token")
        return key
    raise ApiError("missing_token", text("key_missing"), "openai_token")


def generate(request: Request, app: App, facts: dict[str, Any]) -> Response:
    gen_request = parse_request(request.body, app.settings)
    api_key = resolve_key(gen_request, request.headers)
    lang = language(gen_request.user_input, request.headers.get("accept-language"))
    generation = Generation(gen_request, api_key, app, lang)
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


def page_response(path: str) -> Response:
    """The reference page or its client (README "The reference page")."""
    asset = page.asset(path)
    if asset is None:
        raise ApiError("not_found", text("page_not_shipped", path=repr(path)))
    return Response(200, asset.body, dict(asset.headers))


def not_allowed(method: str, path: str) -> ApiError:
    if path == "/aiops-client.js":
        return ApiError(
            "method_not_allowed",
            text("get_only_method", method=method, path=path),
            allow="GET, HEAD, OPTIONS",
        )
    return ApiError(
        "method_not_allowed",
        text("gen_method", method=method),
        allow="GET, HEAD, POST, OPTIONS" if path == "/" else "POST, OPTIONS",
    )


# --- the routing table -------------------------------------------------------------------------

Handler = Callable[[Request, App, dict[str, Any]], Response]


def preflight(request: Request, app: App, facts: dict[str, Any]) -> Response:
    """A browser's CORS preflight, on any path (the origin headers are added by `respond`)."""
    return Response(
        204,
        headers={
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Request-Id",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        },
    )


def health(request: Request, app: App, facts: dict[str, Any]) -> Response:
    return json_response(200, {"status": "ok"})


def page_file(path: str) -> Handler:
    return lambda request, app, facts: page_response(path)


def routes() -> dict[str, dict[str, Handler]]:
    """Path (without a trailing slash) → method → handler."""
    table: dict[str, dict[str, Handler]] = {"/healthz": {"GET": health, "HEAD": health}}
    for path in page.PATHS:
        table[path] = {"GET": page_file(path), "HEAD": page_file(path)}
    for path in GEN_PATHS:
        table.setdefault(path, {})["POST"] = generate
    return table


ROUTES = routes()


def refusal(method: str, path: str) -> ApiError:
    """Why a method and path that the table does not hold are not served."""
    if path == "/healthz":
        return ApiError(
            "method_not_allowed", text("healthz_method", method=method), allow="GET, HEAD, OPTIONS"
        )
    if method != "POST" or path == "/aiops-client.js":
        return not_allowed(method, path)
    return ApiError("not_found", text("no_such_endpoint", path=repr(path)))


def route(request: Request, app: App, facts: dict[str, Any]) -> Response:
    method, path = request.method.upper(), request.path.rstrip("/") or "/"
    if method == "OPTIONS":
        return preflight(request, app, facts)
    handler = ROUTES.get(path, {}).get(method)
    if handler is None:
        raise refusal(method, path)
    return handler(request, app, facts)


# --- around every request: errors as JSON, the shared headers, the log line ------------------


def respond(request: Request, app: App) -> Response:
    """Serve one HTTP request with the process's app; never raises, never answers with a stack
    trace."""
    started = time.perf_counter()
    facts: dict[str, Any] = {}  # what the request's log line tells besides the basics
    response, fault = answered(request, app, facts)
    with_shared_headers(response, request, app.settings)
    log_line(request, response, facts, fault, started)
    return response


def answered(
    request: Request, app: App, facts: dict[str, Any]
) -> tuple[Response, BaseException | None]:
    """The routed answer; an error becomes its JSON answer (an unexpected one: internal_error,
    returned too, to be logged with its traceback)."""
    try:
        return route(request, app, facts), None
    except ApiError as error:
        facts["error"] = error.code
        return error_response(error, request_language(request)), None
    except Exception as exc:
        facts["error"] = "internal_error"
        internal = ApiError("internal_error", text("internal_error"))
        return error_response(internal, request_language(request)), exc


def with_shared_headers(response: Response, request: Request, settings: Settings) -> None:
    """CORS and X-Request-Id on every answer; no body for HEAD."""
    response.headers.update(cors_headers(request.headers.get("origin"), settings))
    response.headers["X-Request-Id"] = request.request_id
    if request.method.upper() == "HEAD":
        response.body = b""


def log_line(
    request: Request,
    response: Response,
    facts: dict[str, Any],
    fault: BaseException | None,
    started: float,
) -> None:
    """The request's one JSON log line (aiops.logs)."""
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
