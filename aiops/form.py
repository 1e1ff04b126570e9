"""The deploy form (README "The API"): its fields, normalisation, validation and diff.

The flat form is declared once, as the table `FORM` at the end of this module: each `Field`
holds its default, its normaliser, the line the model is told and its value's strict schema;
defaults, normalisation, the prompt's field list (aiops.prompt) and the answer schema come from
it, and tests/test_form_table.py checks openapi.yaml against it. A few generic normalisers
carry the shared patterns: `_Sizes` (an amount that snaps up to a choice: cpu, memory) and
`_KeyedList` (a keyed list: environment, configmap, storage).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import shlex
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiops import images, sizes
from aiops.messages import INVALID_VALUE, NOTICE_CODES, Lang, Text, render, text


@dataclass(frozen=True)
class Notice:
    """A warning or a validation error about one field (`field` may be dotted: `environment.X`):
    its stable `code` (aiops.messages.WARNING_CODES, or `invalid_value` for an error) and its
    text, rendered in the request's language when the answer is made."""

    field: str
    code: str
    text: Text | str

    def __post_init__(self) -> None:
        if self.code not in NOTICE_CODES:
            raise ValueError(f"unknown notice code {self.code!r}")

    @property
    def message(self) -> str:
        """The text in English (what the model is told on a re-ask)."""
        return render(self.text, "en")

    def rendered(self, lang: Lang) -> str:
        return render(self.text, lang)


@dataclass(frozen=True)
class Limits:
    """The platform's allowed values: the README's defaults, changed per deployment by settings
    (`Settings.limits()`, README "Settings")."""

    cpu_choices: tuple[float, ...] = (0.1, 0.2, 0.5, 1, 2, 3, 4, 8)
    memory_choices: tuple[str, ...] = ("64M", "128M", "256M", "512M", "1G", "2G", "4G", "8G", "16G")
    max_instances: int = 20
    max_storage_gi: int = 20
    app_name_max: int = 25
    max_env: int = 100  # environment variables
    max_configmap: int = 20  # config files
    max_storage_items: int = 20  # volumes
    max_text_chars: int = 16384  # any one string in the form: a value, a file, a command


@dataclass
class Normalised:
    """The result of `normalise`: a complete form and what was changed or refused on the way."""

    form: dict[str, Any]
    warnings: list[Notice]
    errors: list[Notice]


def default_form() -> dict[str, Any]:
    """A complete, valid form: what a new app starts from."""
    return {field.name: field.default() for field in FORM}


def normalise(
    values: Mapping[str, Any],
    limits: Limits = Limits(),
    previous: Mapping[str, Any] | None = None,
) -> Normalised:
    """The complete, valid form for `values`; never raises.

    A field that cannot be normalised is reported in `errors` and takes its value from
    `previous` (an already-normalised form) or else from the defaults; so does a missing field.
    Keys that are not form fields are passed through untouched, after the fields.
    """
    warnings: list[Notice] = []
    errors: list[Notice] = []
    if not isinstance(values, Mapping):
        errors.append(Notice("params", INVALID_VALUE, text("form_not_object", kind=_kind(values))))
        values = {}
    form: dict[str, Any] = {}
    for field in FORM:
        if field.name not in values:
            form[field.name] = _fallback(field, limits, previous)
            continue
        value, notes = normalised_field(field, values[field.name], limits)
        if notes.errors:
            errors.extend(notes.errors)
            form[field.name] = _fallback(field, limits, previous)
        else:
            warnings.extend(notes.warnings)
            form[field.name] = value
    form.update((key, value) for key, value in values.items() if key not in FIELDS)
    return Normalised(form=form, warnings=warnings, errors=errors)


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level keys of `after` whose value differs from `before`, with their new value.

    Types count: `true` is not `1` and `"1"` is not `1`, so that a front end merging the
    changes gets the normalised types. Keys missing from `after` are not listed.
    """
    return {
        key: value
        for key, value in after.items()
        if key not in before or not _same(before[key], value)
    }


def dumps_form(form: Mapping[str, Any]) -> str:
    """The form as strict, compact JSON text (the answer's `GenParamsStr`)."""
    return json.dumps(form, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# --- the machinery of normalise -------------------------------------------------------------


class Invalid(Exception):
    """A value that cannot be normalised; `where` refines the field name (`[1].value`)."""

    def __init__(self, message: Text, where: str = "") -> None:
        super().__init__(str(message))
        self.message = message
        self.where = where


class Notes:
    """The warnings and errors of one field while it is being normalised."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.warnings: list[Notice] = []
        self.errors: list[Notice] = []

    def warn(self, code: str, message: Text, where: str = "") -> None:
        self.warnings.append(Notice(self.name + where, code, message))

    def fail(self, message: Text, where: str = "") -> None:
        self.errors.append(Notice(self.name + where, INVALID_VALUE, message))


@dataclass(frozen=True)
class Field:
    """One field of a form, everything the service knows about it in one place: its default,
    how a value is read and normalised (raising `Invalid`, noting warnings), the line the model
    is told (English), and its value's strict JSON schema in the model's answer. The flat form
    is `FORM`; the rich form (aiops.rich) adds its own fields of the same type."""

    name: str
    default: Callable[[], Any]
    normalise: Callable[[Any, Limits, Notes], Any]
    rule: Callable[[Limits], str]
    schema: Callable[[Limits], dict[str, Any]]


def normalised_field(field: Field, value: Any, limits: Limits) -> tuple[Any, Notes]:
    """`value` normalised as `field`, with its notes (None when `notes.errors` is not empty)."""
    notes = Notes(field.name)
    try:
        return field.normalise(value, limits, notes), notes
    except Invalid as invalid:
        notes.fail(invalid.message, invalid.where)
        return None, notes


def _fallback(field: Field, limits: Limits, previous: Mapping[str, Any] | None) -> Any:
    if previous is not None and field.name in previous:
        return copy.deepcopy(previous[field.name])
    return _default_within(field, limits)


def _default_within(field: Field, limits: Limits) -> Any:
    """The default value of a field, fitted silently to limits that may exclude it."""
    default = field.default()
    value, notes = normalised_field(field, default, limits)
    return default if notes.errors else value


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values, where booleans, numbers and strings never equal each other."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# --- words for messages ------------------------------------------------------------------------


def _kind(value: Any) -> Text:
    """What a value is, in JSON words: `a string`, `an object`..."""
    if value is None:
        return text("kind_null")
    if isinstance(value, bool):
        return text("kind_boolean")
    if isinstance(value, int | float):
        return text("kind_number")
    if isinstance(value, str):
        return text("kind_string")
    if isinstance(value, Mapping):
        return text("kind_object")
    if isinstance(value, list | tuple):
        return text("kind_list")
    return text("kind_other", name=type(value).__name__)


def _shown(value: Any, width: int = 40) -> str:
    """A value as JSON for a message, cut to about `width` characters."""
    try:
        shown = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        shown = str(_kind(value))
    return shown if len(shown) <= width else shown[: width - 1] + "…"


# Public names for the rich form and the dialects (aiops.rich, aiops.dialects).
shown = _shown
kind_of = _kind


def _listed(choices: Iterable[Any]) -> str:
    return ", ".join(str(choice) for choice in choices)


def _above_maximum(name: str, value: Any, kept: Any) -> Text:
    return text("above_maximum", name=name, value=_shown(value), kept=str(kept))


def _rounded_up(name: str, value: Any, kept: Any, rule: Text) -> Text:
    return text("rounded_up", name=name, value=_shown(value), kept=str(kept), rule=rule)


# --- app_name --------------------------------------------------------------------------------


def _app_name_rule(limits: Limits) -> Text:
    return text("rule_app_name", max=limits.app_name_max)


def _app_name(value: Any, limits: Limits, notes: Notes) -> str:
    if not isinstance(value, str):
        raise Invalid(text("app_name_not_string", kind=_kind(value), rule=_app_name_rule(limits)))
    name = _slug(value, limits.app_name_max)
    if not name:
        raise Invalid(text("app_name_no_letter", value=_shown(value), rule=_app_name_rule(limits)))
    if name != value:
        notes.warn(
            "rewritten",
            text(
                "app_name_rewritten",
                value=_shown(value),
                name=_shown(name),
                rule=_app_name_rule(limits),
            ),
        )
    return name


def _slug(text: str, max_chars: int) -> str:
    """`text` as a name: lower-case ASCII letters, digits and single `-`, starting with a letter."""
    name = re.sub(r"[^a-z0-9]+", "-", unicodedata.normalize("NFKC", text).lower())
    name = re.sub(r"^[^a-z]+", "", name)
    return name.rstrip("-")[:max_chars].rstrip("-")


# --- image_name ------------------------------------------------------------------------------

_IMAGE_MAX = 255
_IMAGE_RULE = text("rule_image")
_DOCKER_COMMAND = re.compile(r"docker\s+(pull|run)\s+(.*)", re.IGNORECASE | re.DOTALL)


def _image_name(value: Any, limits: Limits, notes: Notes) -> str:
    if not isinstance(value, str):
        raise Invalid(text("image_not_string", kind=_kind(value), rule=_IMAGE_RULE))
    given = value.strip()
    image = _image_of_docker_command(given)
    if image != given:
        notes.warn(
            "docker_command_image",
            text("image_of_docker_command", value=_shown(given), image=_shown(image)),
        )
    ref = _parsed_image(image)
    if ref.text != image:
        notes.warn(
            "rewritten", text("image_lower_cased", value=_shown(image), image=_shown(ref.text))
        )
    if ref.floating:
        notes.warn("no_version_tag", text("image_without_tag", repository=ref.repository))
    return ref.text


def _image_of_docker_command(given: str) -> str:
    """The image of `docker pull …`/`docker run …`, or `given` itself when it is no such command."""
    command = _DOCKER_COMMAND.fullmatch(given)
    if command is None:
        return given
    unclear = Invalid(text("image_command_unclear", value=_shown(given), rule=_IMAGE_RULE))
    try:
        tokens = shlex.split(command.group(2))
    except ValueError:
        raise unclear from None
    pulling = command.group(1).lower() == "pull"
    start = images.first_operand(tokens, images.PULL if pulling else images.RUN)
    # `docker run IMAGE ARGS…` runs ARGS in the image; `docker pull` takes the image alone.
    if start is None or (pulling and len(tokens) > start + 1):
        raise unclear
    return tokens[start]


def _parsed_image(given: str) -> images.Ref:
    """The parts of an image reference, its path lower-cased; raises `Invalid` when it is none."""
    if not given:
        raise Invalid(text("image_empty", rule=_IMAGE_RULE))
    if re.search(r"\s", given):
        raise Invalid(text("image_has_spaces", value=_shown(given), rule=_IMAGE_RULE))
    if len(given) > _IMAGE_MAX:
        raise Invalid(text("text_too_long", what="image_name", count=len(given), max=_IMAGE_MAX))
    parts = images.split(given)
    ref = dataclasses.replace(parts, path=parts.path.lower())
    if not images.is_reference(ref):
        raise Invalid(text("image_not_reference", value=_shown(given), rule=_IMAGE_RULE))
    return ref


# --- instance --------------------------------------------------------------------------------

_INSTANCE_WORDS = re.compile(
    r"(?P<number>.+?)\s*"
    r"(?:个实例|个副本|个节点|个容器|个|实例|副本|台|份|instances?|replicas?|copies|copy|pods?)?"
)


def _instance(value: Any, limits: Limits, notes: Notes) -> int:
    rule = text("rule_instance", max=limits.max_instances)
    count = _count(value)
    if count is None:
        raise Invalid(text("instance_not_whole", value=_shown(value), rule=rule))
    kept = min(max(count, 1), limits.max_instances)
    if kept != count:
        notes.warn(
            "clamped",
            text("instance_out_of_range", value=_shown(value), kept=f"{kept:g}", rule=rule),
        )
    return int(kept)


def _count(value: Any) -> float | None:
    """A whole number (or an infinite one) from a number or words like `两个实例`, else None."""
    number = sizes.real(value)
    if number is None and isinstance(value, str):
        words = _INSTANCE_WORDS.fullmatch(sizes.cleaned(value))
        number = sizes.number(words.group("number")) if words else None
    if number is None or (math.isfinite(number) and not number.is_integer()):
        return None
    return number


# --- a choice that snaps up (cpu, memory) ------------------------------------------------------


@dataclass(frozen=True)
class _Sizes:
    """A field whose value is an amount snapped up to one of a few choices: parse the amount,
    require it > 0, take the smallest choice at least that large (the largest when none is),
    warn when that is not the amount given."""

    name: str
    choices: list[tuple[float, Any]]  # (amount, the value the form keeps), smallest first
    amount_of: Callable[[Any], float | None]
    unreadable: str  # message keys
    not_positive: str

    def snapped_up(self, value: Any, notes: Notes) -> Any:
        rule = text("rule_choices", choices=_listed(kept for _, kept in self.choices))
        amount = self.amount_of(value)
        if amount is None:
            raise Invalid(text(self.unreadable, value=_shown(value), rule=rule))
        if amount <= 0 or not self.choices:
            raise Invalid(text(self.not_positive, value=_shown(value), rule=rule))
        fitting = [
            (size, kept)
            for size, kept in self.choices
            if size >= amount or sizes.close(size, amount)
        ]
        if not fitting:
            kept = self.choices[-1][1]
            notes.warn("clamped", _above_maximum(self.name, value, kept))
            return kept
        size, kept = fitting[0]
        if not sizes.close(size, amount):
            notes.warn("rounded_up", _rounded_up(self.name, value, kept, rule))
        return kept


def _fits(size: float, amount: float) -> bool:
    return size >= amount or sizes.close(size, amount)


# --- cpu -------------------------------------------------------------------------------------

_CPU_WORDS = re.compile(
    r"(?P<number>.+?)\s*"
    r"(?P<unit>m|millicores?|millicpus?|cores?|vcpus?|cpus?|c|个?核心?|个?v?cpus?)?"
)
_MILLI_UNITS = frozenset({"m", "millicore", "millicores", "millicpu", "millicpus"})


def _cpu(value: Any, limits: Limits, notes: Notes) -> float:
    choices = [(choice, sizes.whole_as_int(choice)) for choice in sorted(limits.cpu_choices)]
    snapping = _Sizes("cpu", choices, _cores, "cpu_not_cores", "cpu_not_positive")
    return snapping.snapped_up(value, notes)


def _cores(value: Any) -> float | None:
    """A number of cores from a number or words like `500m`, `2 cores`, `2核`, `半核`, else None."""
    number = sizes.real(value)
    if number is not None or not isinstance(value, str):
        return number
    words = _CPU_WORDS.fullmatch(sizes.cleaned(value))
    if words is None:
        return None
    spelled = words.group("number")
    cores = 0.5 if spelled == "半" else sizes.number(spelled)
    if cores is not None and words.group("unit") in _MILLI_UNITS:
        return cores / 1000
    return cores


# --- memory and sizes ------------------------------------------------------------------------


def _memory(value: Any, limits: Limits, notes: Notes) -> str:
    snapping = _Sizes(
        "memory",
        _memory_choices(limits),
        lambda given: sizes.mebibytes(given, bare_unit="m"),
        "memory_not_size",
        "memory_not_positive",
    )
    return snapping.snapped_up(value, notes)


def _memory_choices(limits: Limits) -> list[tuple[float, str]]:
    """Allowed memory labels with their size in MiB, smallest first; unreadable ones left out."""
    sized = ((sizes.mebibytes(label, bare_unit="m"), label) for label in limits.memory_choices)
    return sorted((size, label) for size, label in sized if size is not None and size > 0)


# --- container_port --------------------------------------------------------------------------


def _container_port(value: Any, limits: Limits, notes: Notes) -> int:
    number = sizes.real(value)
    if number is None and isinstance(value, str) and sizes.DECIMAL.fullmatch(sizes.cleaned(value)):
        number = float(sizes.cleaned(value))
    if number is None or not (1 <= number <= 65535) or not number.is_integer():
        raise Invalid(text("port_invalid", value=_shown(value)))
    return int(number)


# --- public_access ---------------------------------------------------------------------------

_TRUE_WORDS = frozenset({"true", "yes", "y", "on", "1", "enabled", "是", "开启", "打开", "开"})
_FALSE_WORDS = frozenset({"false", "no", "n", "off", "0", "disabled", "否", "关闭", "关", ""})


def _public_access(value: Any, limits: Limits, notes: Notes) -> bool:
    if isinstance(value, bool):
        return value
    if sizes.real(value) in (0.0, 1.0):
        return bool(value)
    if isinstance(value, str) and sizes.cleaned(value) in _TRUE_WORDS | _FALSE_WORDS:
        return sizes.cleaned(value) in _TRUE_WORDS
    raise Invalid(text("public_access_invalid", value=_shown(value)))


# --- command and parameters ------------------------------------------------------------------


def _argv_text(value: Any, limits: Limits, notes: Notes) -> str:
    """`command`/`parameters`: a trimmed string, or a list of words as its JSON text."""
    rule = text("rule_argv")
    if value is None:
        words = ""
    elif isinstance(value, str):
        words = value.strip()
    elif isinstance(value, list | tuple):
        words = json.dumps(_words(value, notes.name, rule), ensure_ascii=False) if value else ""
    else:
        raise Invalid(text("argv_wrong_type", name=notes.name, kind=_kind(value), rule=rule))
    return _within_text_limit(words, limits, notes.name)


def _words(items: Iterable[Any], name: str, rule: Text) -> list[str]:
    words = []
    for index, item in enumerate(items):
        word = item if isinstance(item, str) else _number_text(item)
        if word is None:
            raise Invalid(
                text("argv_item_wrong", name=name, index=index, kind=_kind(item), rule=rule),
                f"[{index}]",
            )
        words.append(word)
    return words


def _number_text(value: Any) -> str | None:
    """A JSON number as text (`8080`, `1.5`), else None."""
    if isinstance(value, bool) or sizes.real(value) is None:
        return None
    try:
        return str(value)
    except ValueError:  # an integer past Python's digit limit, which JSON parsers refuse too
        return None


def _within_text_limit(value: str, limits: Limits, what: str | Text, where: str = "") -> str:
    if len(value) > limits.max_text_chars:
        raise Invalid(
            text("text_too_long", what=what, count=len(value), max=limits.max_text_chars), where
        )
    return value


# --- a keyed list (environment, configmap, storage) --------------------------------------------


@dataclass(frozen=True)
class _KeyedList:
    """A list field whose items are keyed (a variable's name, a file's path, a mount path):
    read the items, normalise each (a bad one is an error of its own, the others are kept), let
    a later item with the same key replace an earlier one with a warning, and cap the count."""

    items: Callable[[Any, Notes], list[tuple[str, Any]]]  # (where, item) of every item given
    entry: Callable[[Any, Limits, Notes, str], tuple[str, Any]]  # (key, value); or Invalid
    key_at: str  # where, under the item, its key is (`.file_path`)
    twice: str  # message keys; `twice` takes the key as its parameter `key_name`
    key_name: str
    too_many: str
    max_count: Callable[[Limits], int]
    shaped: Callable[[str, Any], dict[str, Any]]  # the form's item

    def normalised(self, value: Any, limits: Limits, notes: Notes) -> list[dict[str, Any]]:
        kept: dict[str, Any] = {}
        for where, item in self.items(value, notes):
            try:
                key, given = self.entry(item, limits, notes, where)
            except Invalid as invalid:
                notes.fail(invalid.message, invalid.where)
                continue
            if key in kept:
                twice = text(self.twice, **{self.key_name: _shown(key)})
                notes.warn("duplicate_replaced", twice, where + self.key_at)
            kept[key] = given
        if len(kept) > self.max_count(limits):
            raise Invalid(text(self.too_many, count=len(kept), max=self.max_count(limits)))
        return [self.shaped(key, given) for key, given in kept.items()]


# --- environment -----------------------------------------------------------------------------

ENV_NAME_PATTERN = r"[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_NAME = re.compile(ENV_NAME_PATTERN)
_ENV_NAME_RULE = text("rule_env_name")
_ENV_SHAPE = text("rule_env_shape")


def _environment(value: Any, limits: Limits, notes: Notes) -> list[dict[str, str]]:
    return _ENVIRONMENT.normalised(value, limits, notes)


def _env_variable(item: Any, limits: Limits, notes: Notes, where: str) -> tuple[str, str]:
    name, raw = item
    return name, _env_value(name, raw, limits, where)


def _env_pairs(value: Any, notes: Notes) -> list[tuple[str, Any, str]]:
    """(name, raw value, where) of every variable given; shapes we cannot read are noted."""
    if value is None:
        return []
    if isinstance(value, str):
        return _env_lines(value.splitlines(), notes, skip_comments=True)
    if isinstance(value, Mapping):
        return [(str(name).strip(), raw, f".{str(name).strip()}") for name, raw in value.items()]
    if not isinstance(value, list | tuple):
        raise Invalid(text("env_wrong_type", kind=_kind(value), rule=_ENV_SHAPE))
    pairs = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            pairs.extend(_env_lines([item], notes, skip_comments=False, where=f"[{index}]"))
        elif isinstance(item, Mapping) and isinstance(_first(item, ("name", "key")), str):
            name = _first(item, ("name", "key")).strip()
            pairs.append((name, item.get("value"), f".{name}"))
        else:
            notes.fail(text("env_item_not_variable", index=index, rule=_ENV_SHAPE), f"[{index}]")
    return pairs


def _env_lines(
    lines: Iterable[str], notes: Notes, *, skip_comments: bool, where: str = ""
) -> list[tuple[str, Any, str]]:
    pairs = []
    for number, line in enumerate(lines, start=1):
        stripped = re.sub(r"^export\s+", "", line.strip())
        if skip_comments and (not stripped or stripped.startswith("#")):
            continue
        name, equals, raw = stripped.partition("=")
        if not equals:
            notes.fail(text("env_line_invalid", number=number, line=_shown(line)), where)
            continue
        pairs.append((name.strip(), _unquoted(raw.strip()), f".{name.strip()}"))
    return pairs


def _unquoted(text: str) -> str:
    """A dotenv value without its surrounding quotes."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _env_value(name: str, raw: Any, limits: Limits, where: str) -> str:
    """The value of a valid variable as a string; raises `Invalid` for a bad name or value."""
    if not _ENV_NAME.fullmatch(name):
        raise Invalid(text("env_name_invalid", name=_shown(name), rule=_ENV_NAME_RULE), where)
    if raw is None:
        return ""
    if isinstance(raw, bool):
        given: str | None = "true" if raw else "false"
    else:
        given = raw if isinstance(raw, str) else _number_text(raw)
    if given is None:
        raise Invalid(text("env_value_wrong", name=_shown(name), kind=_kind(raw)), where)
    return _within_text_limit(given, limits, text("what_value_of", name=_shown(name)), where)


def _first(item: Mapping[str, Any], keys: Iterable[str]) -> Any:
    """The first of `keys` that `item` gives a non-null value, else None."""
    return next((item[key] for key in keys if item.get(key) is not None), None)


# --- configmap and storage -------------------------------------------------------------------

MOUNT_PATH_PATTERN = r"/[0-9a-zA-Z_/][0-9a-zA-Z_/.-]*[0-9a-zA-Z_/]"
_MOUNT_PATH = re.compile(MOUNT_PATH_PATTERN)
_MOUNT_PATH_RULE = text("rule_mount_path")


def _configmap(value: Any, limits: Limits, notes: Notes) -> list[dict[str, str]]:
    return _CONFIGMAP.normalised(value, limits, notes)


def _config_file(item: Any, limits: Limits, notes: Notes, where: str) -> tuple[str, str]:
    path = _mount_path(
        _first(item, ("file_path", "mountPath", "mount_path", "path")),
        limits,
        f"{where}.file_path",
    )
    return path, _file_content(_first(item, ("file_content", "value", "content")), limits, where)


def _file_content(value: Any, limits: Limits, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(text("file_content_wrong", kind=_kind(value)), f"{where}.file_content")
    return _within_text_limit(value, limits, "file_content", f"{where}.file_content")


def _storage(value: Any, limits: Limits, notes: Notes) -> list[dict[str, Any]]:
    return _STORAGE.normalised(value, limits, notes)


def _volume(item: Any, limits: Limits, notes: Notes, where: str) -> tuple[str, int]:
    path = _mount_path(
        _first(item, ("value", "mount_path", "path", "mountPath")), limits, f"{where}.value"
    )
    return path, _capacity(item.get("capacity"), limits, notes, f"{where}.capacity")


def _configmap_objects(value: Any, notes: Notes) -> list[tuple[str, Any]]:
    return _objects(value, notes, text("shape_configmap"))


def _storage_objects(value: Any, notes: Notes) -> list[tuple[str, Any]]:
    return _objects(value, notes, text("shape_storage"))


def _objects(value: Any, notes: Notes, shape: Text) -> list[tuple[str, Any]]:
    """The (where, item) of every object in a list field (`null` is empty); others are noted."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise Invalid(text("list_wrong_type", name=notes.name, kind=_kind(value), shape=shape))
    objects: list[tuple[str, Any]] = []
    for index, item in enumerate(value):
        if isinstance(item, Mapping):
            objects.append((f"[{index}]", item))
        else:
            notes.fail(
                text(
                    "list_item_wrong", name=notes.name, index=index, kind=_kind(item), shape=shape
                ),
                f"[{index}]",
            )
    return objects


def _mount_path(value: Any, limits: Limits, where: str) -> str:
    if not isinstance(value, str):
        raise Invalid(text("path_wrong_type", kind=_kind(value), rule=_MOUNT_PATH_RULE), where)
    path = _within_text_limit(value.strip(), limits, text("what_path"), where)
    if not _MOUNT_PATH.fullmatch(path):
        raise Invalid(text("path_invalid", path=_shown(path), rule=_MOUNT_PATH_RULE), where)
    return path


def _capacity(value: Any, limits: Limits, notes: Notes, where: str) -> int:
    rule = text("rule_capacity", max=limits.max_storage_gi)
    mib = sizes.mebibytes(value, bare_unit="g")
    if mib is None:
        raise Invalid(text("capacity_not_size", value=_shown(value), rule=rule), where)
    gib = mib / 1024
    if gib > limits.max_storage_gi:
        notes.warn("clamped", _above_maximum("capacity", value, limits.max_storage_gi), where)
        return limits.max_storage_gi
    if gib < 1:
        notes.warn("clamped", text("capacity_below_minimum", value=_shown(value), rule=rule), where)
        return 1
    whole = math.ceil(gib - 1e-9)
    if not sizes.close(whole, gib):
        notes.warn("rounded_up", _rounded_up("capacity", value, whole, rule), where)
    return whole


def _env_items(value: Any, notes: Notes) -> list[tuple[str, Any]]:
    return [(where, (name, raw)) for name, raw, where in _env_pairs(value, notes)]


_ENVIRONMENT = _KeyedList(
    items=_env_items,
    entry=_env_variable,
    key_at="",
    twice="env_set_twice",
    key_name="name",
    too_many="env_too_many",
    max_count=lambda limits: limits.max_env,
    shaped=lambda name, value: {"name": name, "value": value},
)
_CONFIGMAP = _KeyedList(
    items=_configmap_objects,
    entry=_config_file,
    key_at=".file_path",
    twice="file_given_twice",
    key_name="path",
    too_many="configmap_too_many",
    max_count=lambda limits: limits.max_configmap,
    shaped=lambda path, content: {"file_path": path, "file_content": content},
)
_STORAGE = _KeyedList(
    items=_storage_objects,
    entry=_volume,
    key_at=".value",
    twice="mount_given_twice",
    key_name="path",
    too_many="storage_too_many",
    max_count=lambda limits: limits.max_storage_items,
    shaped=lambda path, capacity: {"capacity": capacity, "value": path},
)


# --- the table of fields ---------------------------------------------------------------------


def object_of(**props: dict[str, Any]) -> dict[str, Any]:
    """The strict schema of an object with exactly these properties."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def array_of(**props: dict[str, Any]) -> dict[str, Any]:
    """The strict schema of a list of such objects."""
    return {"type": "array", "items": object_of(**props)}


def _fixed(line: str) -> Callable[[Limits], str]:
    return lambda limits: line


def _always(schema: dict[str, Any]) -> Callable[[Limits], dict[str, Any]]:
    return lambda limits: schema


def _json_choices(values: Iterable[Any]) -> str:
    return ", ".join(json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in values)


_STRING = _always({"type": "string"})
_NUMBER = _always({"type": "number"})
_TEXT = {"type": "string"}

FORM: tuple[Field, ...] = (
    Field(
        "app_name",
        lambda: "hello-world",
        _app_name,
        lambda limits: (
            '- app_name: string, lower-case letters, digits and "-", starting with a letter, at '
            f"most {limits.app_name_max} characters.\n"
        ),
        _STRING,
    ),
    Field(
        "image_name",
        lambda: "nginx",
        _image_name,
        _fixed(
            '- image_name: Docker image reference, e.g. "mysql:8.4", "halohub/halo:2.5"; prefer '
            "a pinned version tag.\n"
        ),
        _STRING,
    ),
    Field(
        "instance",
        lambda: 1,
        _instance,
        lambda limits: f"- instance: integer 1..{limits.max_instances}, the number of replicas.\n",
        _NUMBER,
    ),
    Field(
        "cpu",
        lambda: 0.2,
        _cpu,
        lambda limits: f"- cpu: number of cores, one of {_json_choices(limits.cpu_choices)}.\n",
        _NUMBER,
    ),
    Field(
        "memory",
        lambda: "256M",
        _memory,
        lambda limits: (
            f"- memory: one of {_json_choices(limits.memory_choices)} (M = MiB, G = GiB).\n"
        ),
        _STRING,
    ),
    Field(
        "container_port",
        lambda: 80,
        _container_port,
        _fixed("- container_port: integer 1..65535, the port the app listens on.\n"),
        _NUMBER,
    ),
    Field(
        "public_access",
        lambda: False,
        _public_access,
        _fixed(
            "- public_access: boolean, true to give the port a public HTTPS address (only for "
            "HTTP apps).\n"
        ),
        _always({"type": "boolean"}),
    ),
    Field(
        "command",
        lambda: "",
        _argv_text,
        _fixed(
            "- command: string, the container command as a JSON array text like "
            '"[\\"nginx\\",\\"-g\\",\\"daemon off;\\"]", or "" for the image default.\n'
        ),
        _STRING,
    ),
    Field(
        "parameters",
        lambda: "",
        _argv_text,
        _fixed('- parameters: string, the container arguments as a JSON array text, or "".\n'),
        _STRING,
    ),
    Field(
        "environment",
        list,
        _environment,
        _fixed('- environment: array of {"name": string, "value": string}.\n'),
        _always(array_of(name=_TEXT, value=_TEXT)),
    ),
    Field(
        "configmap",
        list,
        _configmap,
        _fixed(
            '- configmap: array of {"file_path": absolute path, "file_content": string}: files '
            "mounted into the container.\n"
        ),
        _always(array_of(file_path=_TEXT, file_content=_TEXT)),
    ),
    Field(
        "storage",
        list,
        _storage,
        lambda limits: (
            f'- storage: array of {{"capacity": whole GiB 1..{limits.max_storage_gi}, "value": '
            "absolute mount path}: persistent volumes.\n"
        ),
        _always(array_of(capacity={"type": "integer"}, value=_TEXT)),
    ),
)
FIELDS: tuple[str, ...] = tuple(field.name for field in FORM)
_BY_NAME: dict[str, Field] = {field.name: field for field in FORM}


def field(name: str) -> Field:
    """The flat form's field `name`."""
    return _BY_NAME[name]


def fields_rule(fields: Iterable[Field], limits: Limits) -> str:
    """The model's field list (field: type and allowed values) of these fields."""
    return "".join(field.rule(limits) for field in fields)


def value_schemas(fields: Iterable[Field], limits: Limits) -> list[dict[str, Any]]:
    """The distinct value schemas of these fields, in their order (the answer's `anyOf`)."""
    distinct: list[dict[str, Any]] = []
    for field in fields:
        schema = field.schema(limits)
        if schema not in distinct:
            distinct.append(schema)
    return distinct
