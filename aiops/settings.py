"""Every environment variable the service reads, read once and typed (README "Settings").

A bad value stops the start with a `SettingsError` naming the variable (never its value: it may
be a connection string with a password) and what it needs.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aiops import sizes
from aiops.form import Limits

CommaList = Annotated[list[str], NoDecode]
CommaFloats = Annotated[list[float], NoDecode]
JsonObject = Annotated[dict[str, Any], NoDecode]
# Request fields the service itself sets: AIOPS_EXTRA_BODY may not replace them.
_OWN_BODY_FIELDS = frozenset({"model", "messages", "response_format", "stream", "n"})


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """The service's configuration; field `x` is read from `AIOPS_X` unless aliased."""

    model_config = SettingsConfigDict(
        env_prefix="AIOPS_", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    mongodb_uri: str | None = Field(default=None, validation_alias="MONGODB_URI")
    mongodb_db: str = "aiops"
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")

    model: str = "gpt-4o-mini"
    allowed_models: CommaList = Field(default_factory=list)
    llm_timeout_s: float = Field(default=30.0, gt=0, le=600)
    llm_max_retries: int = Field(default=1, ge=0, le=5)
    # The whole request's budget for model calls (first call, transport retries and the re-ask);
    # unset: no budget beyond each call's own deadline. Set it under the platform's limit.
    request_deadline_s: float | None = Field(default=None, gt=0, le=3600)
    # A JSON object merged into every Chat Completions request (README "Providers").
    extra_body: JsonObject = Field(default_factory=dict)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cors_origins: CommaList = Field(default_factory=lambda: ["*"])
    history_turns: int = Field(default=10, ge=0, le=50)
    history_ttl_days: int = Field(default=30, ge=1, le=3650)
    max_body_bytes: int = Field(default=65536, ge=1024, le=10 * 1024 * 1024)
    max_input_chars: int = Field(default=8000, ge=1, le=100_000)
    # Exact edits of the form ("内存改成2G") answered without a model (README "Instant edits").
    instant_edits: bool = True

    # The platform's form limits; their defaults are the form's own (aiops.form.Limits).
    cpu_choices: CommaFloats = Field(default_factory=lambda: list(Limits.cpu_choices))
    memory_choices: CommaList = Field(default_factory=lambda: list(Limits.memory_choices))
    max_instances: int = Field(default=Limits.max_instances, ge=1, le=1000)
    max_storage_gi: int = Field(default=Limits.max_storage_gi, ge=1, le=100_000)
    app_name_max: int = Field(default=Limits.app_name_max, ge=1, le=63)
    # The domain of a new public port in the launchpad dialect when the page's form has no
    # network with a domain (the cluster's cloud.domain, e.g. "cloud.sealos.io").
    launchpad_domain: str = Field(default="", max_length=253)

    @field_validator(
        "allowed_models", "cors_origins", "cpu_choices", "memory_choices", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("extra_body", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        return extra_body_from(value) if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cpu_choices")
    @classmethod
    def _sorted_cpu(cls, value: list[float]) -> list[float]:
        if not value or any(v <= 0 for v in value):
            raise ValueError("AIOPS_CPU_CHOICES needs positive numbers, e.g. 0.5,1,2")
        return sorted(set(value))

    @field_validator("memory_choices")
    @classmethod
    def _memory_sizes(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not sizes.MEMORY_LABEL.fullmatch(v)]
        if not value or bad:
            raise ValueError(
                f"AIOPS_MEMORY_CHOICES needs sizes written like 512M or 1G (M = MiB, G = GiB); "
                f"not {bad}"
            )
        return value

    def limits(self) -> Limits:
        """The form's limits this deployment configured (`AIOPS_CPU_CHOICES` and friends)."""
        return Limits(
            cpu_choices=tuple(sizes.whole_as_int(choice) for choice in self.cpu_choices),
            memory_choices=tuple(self.memory_choices),
            max_instances=self.max_instances,
            max_storage_gi=self.max_storage_gi,
            app_name_max=self.app_name_max,
        )

    @model_validator(mode="after")
    def _default_model_is_allowed(self) -> Settings:
        if self.model not in self.allowed_models:
            self.allowed_models = [self.model, *self.allowed_models]
        return self


def extra_body_from(text: str) -> dict[str, Any]:
    """AIOPS_EXTRA_BODY read: a JSON object without the fields the service sets itself."""
    example = 'e.g. {"enable_thinking": false}'
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"AIOPS_EXTRA_BODY is not valid JSON ({exc}); write {example}") from None
    if not isinstance(value, dict):
        raise ValueError(f"AIOPS_EXTRA_BODY must be a JSON object, {example}")
    own = sorted(_OWN_BODY_FIELDS & set(value))
    if own:
        raise ValueError(
            f"AIOPS_EXTRA_BODY may not set {', '.join(own)}: the service sets those itself"
        )
    return value


class SettingsError(ValueError):
    """The environment holds a value the service cannot run with; the message says which."""


def env_name(field: str) -> str:
    """The environment variable a field of `Settings` is read from."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else f"AIOPS_{field.upper()}"


# Variables of this repository's own scripts and tests (README "Test it", "Deploy"), read by
# them and not by the service: a shell that has them starts the service without a warning.
TOOL_VARIABLES = frozenset(
    {
        "AIOPS_CHROMIUM",
        "AIOPS_CONTAINER_BASE_TAR",
        "AIOPS_DEBIAN_MIRROR",
        "AIOPS_EMULATOR_CACHE",
        "AIOPS_LAMBDA_ARCH",
        "AIOPS_LAMBDA_PYTHON",
        "AIOPS_MONGOECO_PYTHON",
        "AIOPS_PACKAGE_DIR",
        "AIOPS_PYTHON",
        "AIOPS_TEST_ARTIFACTS",
        "AIOPS_TEST_PYTHON_IMAGE",
    }
)


def unknown_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each `AIOPS_*` variable the service does not read (most likely a misspelt
    setting, which would otherwise be ignored without a word), naming the closest setting;
    `AIOPS_MONGODB_URI` is pointed to `MONGODB_URI` (the settings without the prefix)."""
    environ = os.environ if environ is None else environ
    known = [env_name(name) for name in Settings.model_fields]
    found = []
    for name in sorted(n for n in environ if n.upper().startswith("AIOPS_")):
        upper = name.upper()
        if upper in known or upper in TOOL_VARIABLES:
            continue
        unprefixed = upper.removeprefix("AIOPS_")
        close = [unprefixed] if unprefixed in known else []
        close = close or difflib.get_close_matches(upper, known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        found.append(f"{name} is not a setting of this service and is ignored{hint}")
    return found


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = env_name(str(item["loc"][0])) if item["loc"] else "the settings"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(message if message.startswith(where) else f"{where}: {message}")
    return "bad configuration: " + "; ".join(problems)


def read_settings() -> Settings:
    """The settings in the environment now (the app reads them once, at start: aiops.app)."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None
