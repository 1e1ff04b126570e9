"""Secret values (SPEC §3 step 6): which variables hold secrets, replacing weak secrets the model
invented with strong random ones, and masking known secrets in what is sent to the model.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiops.form import Notice
from aiops.messages import text

_ANYWHERE = ("PASSWORD", "PASSWD", "PASSPHRASE", "SECRET")
_SEGMENTS = frozenset({"TOKEN", "KEY", "PWD", "PASS", "CREDENTIAL", "CREDENTIALS"})
_SEPARATORS = re.compile(r"[_.\-]+")
# Letters and digits only: safe in shells, URLs, YAML and connection strings.
_ALPHABET = string.ascii_letters + string.digits
GENERATED_LENGTH = 24
STRONG_MIN_LENGTH = 12
# Shorter values are not masked: they are too likely to occur in ordinary words.
MASK_MIN_LENGTH = 6
# Keys shorter than this are placeholders of local servers (`x`, `EMPTY`, `ollama`), no secret.
KEY_MIN_LENGTH = 16
_COMMON = frozenset(
    """password passwd pass secret changeme change_me admin administrator root toor test
    default letmein welcome qwerty abc123 123456 12345678 123456789 password1 passw0rd
    mysql postgres postgresql redis mongo mongodb example sample demo guest user master
    your_password yourpassword mypassword my_password secretkey secret_key token apikey
    api_key minioadmin minio123 supersecret""".split()  # noqa: SIM905 (a word list reads best)
)


def is_secret_name(name: str) -> bool:
    """`MYSQL_ROOT_PASSWORD`, `superadminpassword`, `API_KEY`, `spring.r2dbc.password`: yes.
    `KEYCLOAK_ADMIN`: no (KEY is not a whole segment there)."""
    upper = name.upper()
    if any(word in upper for word in _ANYWHERE):
        return True
    return any(part in _SEGMENTS for part in _SEPARATORS.split(upper))


def is_weak(value: str) -> bool:
    """Short, or a common word with digits and punctuation around it."""
    if len(value) < STRONG_MIN_LENGTH:
        return True
    core = value.lower().strip(string.digits + string.punctuation)
    return core in _COMMON or value.lower() in _COMMON


def strong_secret() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(GENERATED_LENGTH))


def _env_values(form: Mapping[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in form.get("environment") or []}


def replace_weak_secrets(
    form: dict[str, Any], before: Mapping[str, Any], user_input: str
) -> tuple[dict[str, Any], list[Notice]]:
    """Replace weak secret values that neither the user's text nor the earlier form gave."""
    given = set(_env_values(before).values())
    notices: list[Notice] = []
    environment = []
    for item in form.get("environment") or []:
        name, value = item["name"], item["value"]
        invented = value and value not in given and value not in user_input
        if invented and is_secret_name(name) and is_weak(value):
            value = strong_secret()
            notices.append(
                Notice(
                    f"environment.{name}",
                    "generated_secret",
                    text("weak_secret_replaced", length=GENERATED_LENGTH),
                )
            )
        environment.append({"name": name, "value": value})
    if not notices:
        return form, []
    return {**form, "environment": environment}, notices


def known_secrets(
    forms: Iterable[Mapping[str, Any]], changes: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Secret values the conversation holds: in the forms and in earlier turns' changes."""
    found: set[str] = set()
    for source in [*forms, *changes]:
        for name, value in _env_values(source).items():
            if is_secret_name(name) and isinstance(value, str) and len(value) >= MASK_MIN_LENGTH:
                found.add(value)
    return sorted(found, key=len, reverse=True)


def spellings(value: str) -> list[str]:
    """How `value` can appear in a message: plainly, and inside a JSON string (the form and the
    history reach the model as JSON, where `"`, `\\`, newlines and maybe non-ASCII are escaped).
    Longest first, so that a plain spelling never cuts an escaped one in half."""
    written = {value, json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]}
    return sorted(written, key=len, reverse=True)


@dataclass
class Mask:
    """Placeholders for secret values: applied to what goes to the model, undone on its answer."""

    values: Sequence[str]

    def placeholder(self, index: int) -> str:
        return f"__SECRET_{index + 1}__"

    def hide(self, text: str) -> str:
        """`text` with every known secret replaced, as written plainly or escaped inside JSON."""
        for index, value in enumerate(self.values):
            for spelling in spellings(value):
                text = text.replace(spelling, self.placeholder(index))
        return text

    def reveal(self, text: str) -> str:
        for index, value in enumerate(self.values):
            text = text.replace(self.placeholder(index), value)
        return text

    def reveal_all(self, value: Any) -> Any:
        """Undo the placeholders everywhere inside a parsed answer (strings in dicts and lists)."""
        if not self.values:
            return value
        if isinstance(value, str):
            return self.reveal(value)
        if isinstance(value, list):
            return [self.reveal_all(v) for v in value]
        if isinstance(value, dict):
            return {k: self.reveal_all(v) for k, v in value.items()}
        return value

    def hide_messages(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        if not self.values:
            return messages
        return [
            m if m["role"] == "system" else {**m, "content": self.hide(m["content"])}
            for m in messages
        ]
