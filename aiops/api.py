"""The API's shapes: the request model, the answer model and the error → status table
(README "The API")."""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator
from pydantic_core import PydanticCustomError

from aiops.messages import Lang, Text, render

# code → HTTP status; every error answer carries one of these codes.
ERROR_STATUS: dict[str, int] = {
    "invalid_request": 400,
    "input_too_long": 400,
    "missing_token": 401,
    "invalid_token": 401,
    "quota_exceeded": 402,
    "not_found": 404,
    "conversation_not_found": 404,
    "method_not_allowed": 405,
    "payload_too_large": 413,
    "content_filtered": 422,
    "rate_limited": 429,
    "internal_error": 500,
    "bad_model_output": 502,
    "upstream_error": 502,
    "store_unavailable": 503,
    "upstream_timeout": 504,
}


class ApiError(Exception):
    """An answer other than 200: a status, a machine code and a message that says what to fix.

    The message is a text of aiops.messages, rendered in the request's language by `body`; a
    plain English string is accepted too (shown as it is in every language)."""

    def __init__(
        self,
        code: str,
        message: Text | str,
        field: str | None = None,
        *,
        retry_after: str | None = None,
        allow: str | None = None,
    ) -> None:
        super().__init__(render(message))
        self.code = code
        self.status = ERROR_STATUS[code]
        self.text = message
        self.message = render(message)  # in English
        self.field = field
        self.retry_after = retry_after
        self.allow = allow  # the Allow header of a 405

    def headers(self) -> dict[str, str]:
        headers = {"Retry-After": self.retry_after, "Allow": self.allow}
        return {name: value for name, value in headers.items() if value}

    def body(self, lang: Lang = "en") -> dict[str, Any]:
        return {"error": render(self.text, lang), "code": self.code, "field": self.field}


# Characters that show nothing: what str.isspace() counts, controls, and the format and filler
# characters (U+FEFF, zero-width space and joiners, bidi marks, word joiner, variation
# selectors, Hangul fillers, soft hyphen). A user_input of only these is empty. The same
# character class, written with escapes both Python and ECMA-262 read alike, is openapi.yaml's
# pattern for user_input (a test keeps them equal).
INVISIBLE = (
    r"\x00-\x20\x7f-\xa0\xad\u034f\u061c\u115f\u1160\u1680\u17b4\u17b5\u180b-\u180f"
    r"\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0"
)
VISIBLE_PATTERN = f"[^{INVISIBLE}]"
_VISIBLE = re.compile(VISIBLE_PATTERN)


class GenRequest(BaseModel):
    """The body of POST /gen. Unknown top-level keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    user_input: StrictStr
    openai_token: StrictStr | None = None
    params: dict[str, Any]
    parent_message_id: StrictStr | None = Field(default=None, max_length=128)
    model: StrictStr | None = Field(default=None, max_length=200)
    # The dialect of `params` and `GenParamsStr` (aiops.dialects): "aiops" (default),
    # "launchpad" or "sealos-v2alpha"; another name is a 400 from the service.
    form: StrictStr | None = Field(default=None, max_length=64)

    @field_validator("user_input")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        value = value.strip()
        if not _VISIBLE.search(value):
            # the type names the message (aiops.messages) that routes.validation_error shows
            raise PydanticCustomError(
                "user_input_empty",
                "user_input is empty (or only invisible characters): describe what to deploy "
                "or change",
            )
        return value

    @field_validator("parent_message_id", "model", "openai_token", "form")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()


class Noticed(Protocol):
    """What a warning is inside the service (aiops.form.Notice has this shape)."""

    @property
    def field(self) -> str: ...
    @property
    def code(self) -> str: ...
    def rendered(self, lang: Lang) -> str: ...


class Warning_(BaseModel):
    """One entry of `Warnings` as the answer writes it: the field, a stable code
    (aiops.messages.WARNING_CODES) and a message in the request's language. Inside the service
    a warning is an aiops.form.Notice; this wire shape is made from one only at the answer's
    edge (`of`), when the language is known."""

    field: str
    code: str
    message: str

    @classmethod
    def of(cls, notice: Noticed, lang: Lang) -> Warning_:
        return cls(field=notice.field, code=notice.code, message=notice.rendered(lang))


class Usage(BaseModel):
    """Tokens over every model call of a request; `cached_prompt_tokens` is the part of
    `prompt_tokens` the provider served from its prompt cache (0 when it does not say)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_prompt_tokens: int = 0
    llm_calls: int = 0

    def add(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
            llm_calls=self.llm_calls + other.llm_calls,
        )


class GenAnswer(BaseModel):
    """The 200 answer of POST /gen. Field names are the original contract's."""

    GenParamsStr: str
    MessageId: str
    Changes: dict[str, Any]
    Reply: str
    Questions: list[str]
    Warnings: list[Warning_]
    Usage: Usage
    Model: str
