"""Secret values (README "Secrets and limits"): which variables hold secrets, replacing weak
secrets the model invented with strong random ones, masking known secrets (and the caller's key)
in what is sent to the model, and revealing them in its answer only where they came from; and
the one scrub of the caller's key from what is kept or written (`without_key`).
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
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
KEY_REMOVED = "[API key removed]"
_COMMON = frozenset(
    """password passwd pass secret changeme change_me admin administrator root toor test
    default letmein welcome qwerty abc123 123456 12345678 123456789 password1 passw0rd
    mysql postgres postgresql redis mongo mongodb example sample demo guest user master
    your_password yourpassword mypassword my_password secretkey secret_key token apikey
    api_key minioadmin minio123 supersecret""".split()  # noqa: SIM905 (a word list reads best)
)


def is_key(api_key: str) -> bool:
    """Whether the caller's key is a secret to hide: short keys (`x`, `EMPTY`, `ollama` for local
    servers) are no secret, and too common a word to mask or remove."""
    return len(api_key) >= KEY_MIN_LENGTH


def without_key(value: Any, api_key: str, removed: str = KEY_REMOVED) -> Any:
    """`value` with every occurrence of the caller's key (when `is_key`) replaced by `removed`:
    a key pasted by mistake, kept out of the store and out of any report."""
    if not is_key(api_key):
        return value
    if isinstance(value, str):
        return value.replace(api_key, removed)
    if isinstance(value, list | tuple):
        return type(value)(without_key(v, api_key, removed) for v in value)
    if isinstance(value, dict):
        return {k: without_key(v, api_key, removed) for k, v in value.items()}
    return value


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


# The shape of a placeholder, also of one the model invents (`__SECRET_1__`, `__SECRET_KEY__`).
PLACEHOLDER_SHAPE = re.compile(r"__SECRET_[A-Za-z0-9_]{0,64}?__")
# What a placeholder becomes in the answer's Reply and Questions: secrets are never revealed there.
HIDDEN = "[secret]"
# A list field's items are told apart by this key; a place in the form is `field.<that value>`.
_ITEM_KEYS = {"environment": "name", "configmap": "file_path", "storage": "value"}


def places(form: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """`(place, text)` of every string in a normalised form. A place is `environment.NAME`,
    `configmap./etc/app.conf` or `storage./data` for an item of a list field, else the
    top-level field."""
    for field_name, value in form.items():
        item_key = _ITEM_KEYS.get(field_name)
        if item_key and isinstance(value, list):
            for item in value:
                name = item.get(item_key) if isinstance(item, Mapping) else None
                for text in _strings(item):
                    yield f"{field_name}.{name}", text
        else:
            for text in _strings(value):
                yield field_name, text


def _strings(value: Any) -> Iterator[str]:
    """Every string inside `value` (nesting is bounded up front: aiops.bounds)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


class _Misplaced(Exception):
    """A value holds a placeholder that may not be revealed there."""


@dataclass
class Mask:
    """Placeholders for secret values: applied to what goes to the model, undone on its answer
    only in the places of the form each secret came from.

    Every placeholder is random per request (`__SECRET_<16 hex>__`), so the model cannot guess
    one; one it invents or moves to another place is never revealed (README "Secrets and limits").
    """

    values: Sequence[str]
    # For each value: the places of the form (see `places`) where the conversation holds it.
    origins: Sequence[frozenset[str]] = ()
    tokens: Sequence[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.values):
            self.tokens = [f"__SECRET_{secrets.token_hex(8)}__" for _ in self.values]
        if len(self.origins) != len(self.values):
            self.origins = [frozenset() for _ in self.values]

    @classmethod
    def for_forms(cls, values: Sequence[str], forms: Iterable[Mapping[str, Any]]) -> Mask:
        """A mask of `values`, each revealed only where one of `forms` holds it."""
        origins: list[set[str]] = [set() for _ in values]
        for form in forms:
            for place, written in places(form):
                for index, value in enumerate(values):
                    if value in written:
                        origins[index].add(place)
        return cls(values, [frozenset(found) for found in origins])

    def placeholder(self, index: int) -> str:
        return self.tokens[index]

    def hide(self, text: str) -> str:
        """`text` with every known secret replaced, as written plainly or escaped inside JSON."""
        for index, value in enumerate(self.values):
            for spelling in spellings(value):
                text = text.replace(spelling, self.placeholder(index))
        return text

    def hide_all(self, value: Any) -> Any:
        """`hide` on every string inside `value`: a known secret the model wrote out (a provider
        knows the key) then counts as its placeholder, revealed only where it belongs."""
        if not self.values:
            return value
        if isinstance(value, str):
            return self.hide(value)
        if isinstance(value, list):
            return [self.hide_all(item) for item in value]
        if isinstance(value, dict):
            return {key: self.hide_all(item) for key, item in value.items()}
        return value

    def hide_messages(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        if not self.values:
            return messages
        return [
            m if m["role"] == "system" else {**m, "content": self.hide(m["content"])}
            for m in messages
        ]

    def scrub(self, text: str) -> str:
        """Text for Reply and Questions: every placeholder, real or invented, is `[secret]`."""
        return PLACEHOLDER_SHAPE.sub(HIDDEN, text)

    def reveal_form(
        self, form: Mapping[str, Any], base: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[Notice]]:
        """`form` (normalised from the model's answer) with each placeholder revealed where its
        secret came from. A value holding any other placeholder (invented, or moved from another
        place) keeps `base`'s value of that place, or is dropped if `base` has none; a warning
        says so."""
        revealed: dict[str, Any] = {}
        notices: list[Notice] = []
        for name, value in form.items():
            item_key = _ITEM_KEYS.get(name)
            if item_key and isinstance(value, list):
                revealed[name] = self._items(name, item_key, value, base.get(name), notices)
                continue
            try:
                revealed[name] = self._revealed(name, value)
            except _Misplaced:
                notices.append(Notice(name, "misplaced_secret", text("misplaced_secret_kept")))
                if name in base:
                    revealed[name] = base[name]
        return revealed, notices

    def _items(
        self, name: str, item_key: str, items: list[Any], before: Any, notices: list[Notice]
    ) -> list[Any]:
        previous = {item.get(item_key): item for item in before or [] if isinstance(item, Mapping)}
        kept = []
        for item in items:
            ident = item.get(item_key) if isinstance(item, Mapping) else None
            place = f"{name}.{ident}"
            try:
                kept.append(self._revealed(place, item))
            except _Misplaced:
                if ident in previous:
                    notices.append(Notice(place, "misplaced_secret", text("misplaced_secret_kept")))
                    kept.append(previous[ident])
                else:
                    notices.append(
                        Notice(place, "misplaced_secret", text("misplaced_secret_dropped"))
                    )
        return kept

    def _revealed(self, place: str, value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER_SHAPE.sub(lambda match: self._secret(place, match[0]), value)
        if isinstance(value, list):
            return [self._revealed(place, item) for item in value]
        if isinstance(value, dict):
            return {key: self._revealed(place, item) for key, item in value.items()}
        return value

    def _secret(self, place: str, token: str) -> str:
        for index, known in enumerate(self.tokens):
            if token == known and place in self.origins[index]:
                return self.values[index]
        raise _Misplaced(place)
