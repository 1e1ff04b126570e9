"""What a provider's failure means: its error body read in any of the shapes OpenAI-compatible
providers use, classified into one `Failure` (README "Providers" and "The API").

Bodies come as `{"error": {"message", "type", "code", "param"}}` (with `code` a string, an
int or missing), `{"error": "text"}`, `{"code", "message", "data"}`, `{"detail": ...}`, a JSON
array of such objects, or plain text. The classification uses the status and every code,
type, parameter and message found, so that a provider not seen before is handled too. The
provider's text is only read here, never copied into an answer or a log (it may echo the key).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

# The longest Retry-After passed on to the caller (seconds); a longer wait is said as this.
RETRY_AFTER_CAP_S = 60
_MAX_DEPTH = 6
_MAX_TEXT = 4000


class Failure(StrEnum):
    """Why a model call failed, as far as the caller is concerned."""

    FORMAT_REJECTED = "format_rejected"  # the response format sent: step down the ladder
    INVALID_KEY = "invalid_key"
    QUOTA = "quota"
    RATE_LIMITED = "rate_limited"
    INPUT_TOO_LONG = "input_too_long"
    CONTENT_FILTERED = "content_filtered"
    UNKNOWN_MODEL = "unknown_model"
    REFUSED = "refused"  # any other 400/422: a parameter the service sent
    UNAVAILABLE = "unavailable"  # 5xx, overloaded: may succeed if tried again
    UNREACHABLE = "unreachable"
    NOT_A_COMPLETION = "not_a_completion"
    TIMEOUT = "timeout"


RETRYABLE = frozenset({Failure.UNAVAILABLE, Failure.UNREACHABLE})


@dataclass
class Signals:
    """What an error body says: its codes and types, its parameters, its messages."""

    codes: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)
    text: str = ""

    def code(self, *names: str) -> bool:
        return any(name in self.codes for name in names)

    def says(self, pattern: re.Pattern[str]) -> bool:
        return bool(pattern.search(self.text)) or any(pattern.search(c) for c in self.codes)


def signals_of(body: bytes | str) -> Signals:
    """The codes, parameters and messages of an error body of any shape."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = text[: 64 * 1024]
    try:
        value: Any = json.loads(text)
    except (ValueError, RecursionError):
        return Signals(text=text[:_MAX_TEXT].casefold())
    found = Signals()
    messages: list[str] = []
    _collect(value, found, messages, 0)
    found.text = " | ".join(messages)[:_MAX_TEXT].casefold()
    return found


_CODE_KEYS = frozenset({"code", "type", "status", "error_code", "error_type", "reason"})
_PARAM_KEYS = frozenset({"param", "loc"})
_TEXT_KEYS = frozenset({"message", "msg", "detail", "error", "error_msg", "status_msg"})


def _collect(value: Any, found: Signals, messages: list[str], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        messages.append(value)
    elif isinstance(value, list):
        for item in value[:20]:
            _collect(item, found, messages, depth + 1)
    elif isinstance(value, dict):
        for key, item in list(value.items())[:50]:
            name = str(key).casefold()
            if name in _CODE_KEYS and isinstance(item, str | int) and not isinstance(item, bool):
                found.codes.add(str(item).casefold())
            elif name in _PARAM_KEYS and isinstance(item, str | list):
                found.params.update(str(part).casefold() for part in _as_list(item))
            elif name in _TEXT_KEYS or isinstance(item, dict | list):
                _collect(item, found, messages, depth + 1)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(patterns), re.IGNORECASE)


_FORMAT = _words(
    r"response[_ .]?format",
    r"json[_ ]?schema",
    r"json[_ ]?object",
    r"json mode",
    r"structured output",
)
_QUOTA = _words(
    r"insufficient[_ ](?:balance|quota|funds|credit)",
    r"exceeded your current quota",
    r"quota (?:exceeded|exhausted)",
    r"budget (?:has been )?exceeded",
    r"arrear",
    r"good standing",
    r"余额不足",
    r"欠费",
    r"out of credits?",
    r"billing",
    r"top up",
    r"recharge",
    r"payment required",
)
_KEY = _words(
    r"api[ _-]?key",
    r"authenticat",
    r"invalid[ _]token",
    r"token (?:has )?expired",
    r"令牌",
    r"unauthori[sz]ed",
    r"subscription key",
    r"credential",
)
_TOO_LONG = _words(
    r"context[_ ](?:length|window)",
    r"maximum context",
    r"too many tokens",
    r"(?:prompt|input|request|message)s? (?:is |are )?too (?:long|large)",
    r"range of input length",
    r"max_seq_len",
    r"reduce the length",
    r"input length",
    r"exceeds? the (?:maximum|max)",
    r"上下文",
)
_FILTERED = _words(
    r"content[_ ](?:management[_ ])?polic",
    r"content[_ ]?filter",
    r"inappropriate",
    r"data[_ ]inspection",
    r"moderation",
    r"unsafe or sensitive",
    r"不安全|敏感",
    r"responsibleaipolicyviolation",
    r"safety (?:system|filter)",
    r"flagged",
)
_MODEL = _words(
    r"model\b[^.|]{0,60}?(?:does not exist|not exist|not found|not available|is invalid|unknown)",
    r"(?:invalid|unknown|no such|unsupported) model",
    r"model_not_found|model not exist|modelnotfound",
    r"deployment[^.|]{0,40}?(?:does not exist|not found)|deploymentnotfound",
    r"do not have access to it",
    r"try pulling it",
)
_RATE = _words(r"rate[_ ]?limit", r"too many requests", r"请求过于频繁|并发")

_QUOTA_CODES = ("insufficient_quota", "arrearage", "budget_exceeded", "1113", "quota_exceeded")
_KEY_CODES = ("invalid_api_key", "authentication_error", "token_not_found_in_db", "1000", "1001")
_KEY_CODES += ("1002", "1003", "1004", "invalid_authentication", "unauthorized")
_TOO_LONG_CODES = ("context_length_exceeded", "20015", "string_above_max_length")
_FILTER_CODES = ("content_filter", "data_inspection_failed", "1301", "content_policy_violation")
_MODEL_CODES = ("model_not_found", "20012", "deploymentnotfound", "1211", "invalid_model")


def classify(status: int, signals: Signals) -> Failure:
    """The failure an error answer of `status` with these signals stands for."""
    if status == 402 or signals.code(*_QUOTA_CODES) or signals.says(_QUOTA):
        return Failure.QUOTA
    if status == 401 or signals.code(*_KEY_CODES):
        return Failure.INVALID_KEY
    if status in (400, 422) and ("response_format" in signals.params or signals.says(_FORMAT)):
        return Failure.FORMAT_REJECTED
    if status == 413 or signals.code(*_TOO_LONG_CODES) or signals.says(_TOO_LONG):
        return Failure.INPUT_TOO_LONG
    if signals.code(*_FILTER_CODES) or signals.says(_FILTERED):
        return Failure.CONTENT_FILTERED
    if status == 404 or signals.code(*_MODEL_CODES) or signals.says(_MODEL):
        return Failure.UNKNOWN_MODEL
    if status in (400, 403) and signals.says(_KEY):
        return Failure.INVALID_KEY
    if status == 429 or signals.code("rate_limit_exceeded", "1302") or signals.says(_RATE):
        return Failure.RATE_LIMITED
    if status >= 500 or status in (408, 409):
        return Failure.UNAVAILABLE
    return Failure.REFUSED


def retry_after_s(headers: Any, now: float | None = None) -> int | None:
    """The provider's wait in whole seconds (Retry-After, retry-after-ms), capped; None if none."""
    if headers is None:
        return None
    millis = _number(headers.get("retry-after-ms"))
    seconds = millis / 1000 if millis is not None else _seconds(headers.get("retry-after"), now)
    if seconds is None or seconds < 0:
        return None
    return min(max(1, round(seconds + 0.49)), RETRY_AFTER_CAP_S)


def _seconds(value: str | None, now: float | None) -> float | None:
    number = _number(value)
    if number is not None or not value:
        return number
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if now is None:
        import time

        now = time.time()
    return when.timestamp() - now


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number == number and number < 1e9 else None
