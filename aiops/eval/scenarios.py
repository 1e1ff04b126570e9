"""The evaluation scenarios (`eval/scenarios.jsonl`): their schema, loading and selection.

A scenario is one conversation: a starting form and one to four user turns, each with what the
form must look like after that turn. One JSON object per line:

    {"id": "mysql-fresh-zh", "tags": ["fresh", "zh", "mysql"], "form": {...},
     "turns": [{"user": "请帮我部署一个mysql",
                "expect": {"image_name": {"repo": "mysql"}, "container_port": {"eq": 3306}},
                "others": "unchanged", "questions": false}]}

`form` is the starting form: any subset of the fields, the rest take the form's defaults. In a
turn, `expect` maps a form field to a *spec*:

    "unchanged"      the value before this turn
    "any"            anything (the field may change; nothing is checked)
    {check}          one check, or [{check}, ...]: all of them

and a check is one of

    {"eq": V}                            exactly V (a normalised form value)
    {"in": [V, ...]}                     one of these values
    {"min": X} {"max": X} or both        cpu, instance, container_port (numbers); memory ("1G")
    {"repo": "R"} or {"repo": [...]}     image_name's repository is R: tag, registry host and
                                         "library/" are ignored ("mysql:8.4" has repo "mysql")
    {"env": "NAME"}, + "value": "V"      environment has NAME (with value V)
    {"no_env": "NAME"}                   environment has no NAME
    {"storage": "/path"}, + "min_capacity": N   a volume mounted at /path (of at least N GiB)
    {"file": "/path"}, + "file_contains": "text"  configmap has a file at /path (holding text)
    {"contains": "text"}                 the value (a string) contains text
    {"not": {check}}                     the check fails

`others` (default "unchanged") is the "no other field changed" constraint: every field that
`expect` does not name must keep its value; "any" lifts it. `questions` (default false) is
true when the turn should produce Questions ("Questions not empty" is then checked), false when
it should not, null when either is fine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aiops.form import FIELDS, default_form, normalise
from aiops.sizes import memory_mib

SCENARIOS_PATH = Path(__file__).resolve().parents[2] / "eval" / "scenarios.jsonl"

CATEGORY_TAGS: dict[str, str] = {
    "fresh": "a fresh deploy of a catalogue image",
    "edit": "a change to a deployed form (memory, env, public access, replicas, storage, port)",
    "paste": "pasted install docs: docker run lines, compose snippets, README excerpts",
    "multi-turn": "a chain of two to four turns in one conversation",
    "no-change": "a request that needs no change to the form",
    "ambiguous": "a request that cannot be decided: the answer should ask questions",
    "injection": "pasted docs that try to take over the answer",
}
LANGUAGE_TAGS = ("zh", "en")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ID = r"^[a-z0-9][a-z0-9-]*$"
_NUMERIC_FIELDS = frozenset({"cpu", "instance", "container_port"})
_TEXT_FIELDS = frozenset({"app_name", "image_name", "command", "parameters"})
_OPERATORS: tuple[frozenset[str], ...] = tuple(
    frozenset(keys)
    for keys in (
        {"eq"},
        {"in_"},
        {"min"},
        {"max"},
        {"min", "max"},
        {"repo"},
        {"env"},
        {"env", "value"},
        {"no_env"},
        {"storage"},
        {"storage", "min_capacity"},
        {"file"},
        {"file", "file_contains"},
        {"contains"},
        {"not_"},
    )
)


class ScenarioError(ValueError):
    """The scenario file is malformed; the message names the line and what is wrong."""


def is_chinese(text: str) -> bool:
    """The CJK-character rule: text with at least one CJK ideograph is Chinese."""
    return bool(_CJK.search(text))


class Check(BaseModel):
    """One check of a field's value: exactly one operator (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    eq: Any = None
    in_: list[Any] | None = Field(default=None, alias="in", min_length=1)
    min: float | str | None = None
    max: float | str | None = None
    repo: str | list[str] | None = None
    env: str | None = None
    value: str | None = None
    no_env: str | None = None
    storage: str | None = None
    min_capacity: int | None = Field(default=None, ge=1)
    file: str | None = None
    file_contains: str | None = None
    contains: str | None = None
    not_: Check | None = Field(default=None, alias="not")

    @model_validator(mode="after")
    def _one_operator(self) -> Check:
        if frozenset(self.model_fields_set) not in _OPERATORS:
            given = ", ".join(sorted(k.rstrip("_") for k in self.model_fields_set)) or "nothing"
            raise ValueError(
                "a check has one operator (eq, in, min/max, repo, env[+value], no_env, "
                f"storage[+min_capacity], file[+file_contains], contains, not); got {given}"
            )
        return self

    def operator(self) -> str:
        """The check's operator: `eq`, `in`, `range`, `repo`, `env`... (`not` for negations)."""
        keys = self.model_fields_set
        if keys & {"min", "max"}:
            return "range"
        for name in ("env", "storage", "file"):
            if name in keys:
                return name
        return next(iter(keys)).rstrip("_")

    def validate_for(self, field: str) -> None:
        """Raise ValueError when this check cannot apply to `field` or names an invalid value."""
        operator = self.operator()
        if operator == "not":
            assert self.not_ is not None
            self.not_.validate_for(field)
        elif operator in ("repo",) and field != "image_name":
            raise ValueError(f"'repo' applies to image_name, not {field}")
        elif operator in ("env", "no_env") and field != "environment":
            raise ValueError(f"'{operator}' applies to environment, not {field}")
        elif operator == "storage" and field != "storage":
            raise ValueError(f"'storage' applies to storage, not {field}")
        elif operator == "file" and field != "configmap":
            raise ValueError(f"'file' applies to configmap, not {field}")
        elif operator == "contains" and field not in _TEXT_FIELDS:
            raise ValueError(f"'contains' applies to {', '.join(sorted(_TEXT_FIELDS))}")
        elif operator == "range":
            self._validate_range(field)
        elif operator == "eq":
            _require_normal(field, self.eq)
        elif operator == "in":
            for value in self.in_ or []:
                _require_normal(field, value)

    def _validate_range(self, field: str) -> None:
        for bound in (self.min, self.max):
            if bound is None:
                continue
            if field == "memory" and not (isinstance(bound, str) and memory_mib(bound)):
                raise ValueError(f"memory bounds are sizes like '512M' or '2G'; got {bound!r}")
            if field in _NUMERIC_FIELDS and not isinstance(bound, int | float):
                raise ValueError(f"{field} bounds are numbers; got {bound!r}")
            if field not in _NUMERIC_FIELDS | {"memory"}:
                raise ValueError("min/max apply to cpu, memory, instance, container_port")


def _require_normal(field: str, value: Any) -> None:
    """An expected value must be written as the form writes it (`"2G"`, not `"2Gi"`)."""
    normalised = normalise({**default_form(), field: value})
    if normalised.errors:
        raise ValueError(f"{field} value {value!r} is not valid: {normalised.errors[0].message}")
    written = normalised.form[field]
    if json.dumps(written, sort_keys=True) != json.dumps(value, sort_keys=True):
        raise ValueError(f"write the {field} value {value!r} as the form does: {written!r}")


Spec = Literal["unchanged", "any"] | Check | list[Check]


class Turn(BaseModel):
    """One user turn and what the form must look like after it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, max_length=8000)
    expect: dict[str, Spec] = Field(default_factory=dict)
    others: Literal["unchanged", "any"] = "unchanged"
    questions: bool | None = False

    @field_validator("expect", mode="before")
    @classmethod
    def _parsed_specs(cls, expect: Any) -> Any:
        """Parse each spec here, so that an error names the check, not a branch of the union."""
        if not isinstance(expect, dict):
            return expect
        return {field: parse_spec(spec) for field, spec in expect.items()}

    @field_validator("expect")
    @classmethod
    def _known_fields(cls, expect: dict[str, Spec]) -> dict[str, Spec]:
        for field, spec in expect.items():
            if field not in FIELDS:
                raise ValueError(f"{field!r} is not a form field; one of {', '.join(FIELDS)}")
            for check in checks_of(spec):
                check.validate_for(field)
        return expect

    def may_change(self, field: str) -> bool:
        """Whether this turn expects, or allows, `field` to change."""
        spec = self.expect.get(field)
        if spec is None:
            return self.others == "any"
        return spec != "unchanged"


def parse_spec(raw: Any) -> Spec:
    """A field's spec from JSON: "unchanged", "any", a check or a list of checks."""
    if raw in ("unchanged", "any"):
        return raw  # type: ignore[no-any-return]
    if isinstance(raw, dict):
        return _check(raw)
    if isinstance(raw, list) and raw and all(isinstance(item, dict) for item in raw):
        return [_check(item) for item in raw]
    raise ValueError(f'a spec is "unchanged", "any", a check or a list of checks; got {raw!r}')


def _check(raw: dict[str, Any]) -> Check:
    try:
        return Check.model_validate(raw)
    except ValidationError as error:
        raise ValueError(_first_error(error)) from None


def checks_of(spec: Spec) -> list[Check]:
    """The checks a spec holds (none for "unchanged" and "any")."""
    if isinstance(spec, Check):
        return [spec]
    if isinstance(spec, list):
        return list(spec)
    return []


class Scenario(BaseModel):
    """A starting form and one to four turns; `form` is completed with the defaults on load."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID, max_length=60)
    tags: list[str] = Field(min_length=1)
    form: dict[str, Any] = Field(default_factory=dict)
    turns: list[Turn] = Field(min_length=1, max_length=4)
    note: str = ""

    @field_validator("tags")
    @classmethod
    def _tag_words(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not re.fullmatch(_ID, tag):
                raise ValueError(f"tag {tag!r}: use lower-case letters, digits and '-'")
        if len(set(tags)) != len(tags):
            raise ValueError("a tag is listed twice")
        return tags

    @field_validator("form")
    @classmethod
    def _valid_form(cls, form: dict[str, Any]) -> dict[str, Any]:
        unknown = [key for key in form if key not in FIELDS]
        if unknown:
            raise ValueError(f"the starting form has unknown fields: {', '.join(unknown)}")
        normalised = normalise({**default_form(), **form})
        if normalised.errors:
            notice = normalised.errors[0]
            raise ValueError(f"starting form: {notice.field}: {notice.message}")
        for key, value in form.items():
            if json.dumps(normalised.form[key]) != json.dumps(value):
                raise ValueError(
                    f"starting form: write {key} as the form does: {normalised.form[key]!r}"
                )
        return normalised.form

    @model_validator(mode="after")
    def _consistent_tags(self) -> Scenario:
        if not set(self.tags) & set(CATEGORY_TAGS):
            raise ValueError(f"give at least one category tag: {', '.join(CATEGORY_TAGS)}")
        if ("multi-turn" in self.tags) != (len(self.turns) > 1):
            raise ValueError("tag 'multi-turn' goes with two or more turns, and only with them")
        language = "zh" if self.chinese else "en"
        other = "en" if language == "zh" else "zh"
        if language not in self.tags or other in self.tags:
            raise ValueError(f"by the CJK-character rule this scenario is {language!r}: tag it so")
        return self

    @property
    def chinese(self) -> bool:
        """Chinese by the CJK-character rule applied to the first turn."""
        return is_chinese(self.turns[0].user)

    @property
    def categories(self) -> list[str]:
        return [tag for tag in self.tags if tag in CATEGORY_TAGS]


def parse_scenarios(lines: Iterable[str], source: str = "scenarios") -> list[Scenario]:
    """Scenarios from JSON lines (blank lines skipped); raises ScenarioError on the first fault."""
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            scenario = Scenario.model_validate_json(line)
        except ValidationError as error:
            raise ScenarioError(f"{source}:{number}: {_first_error(error)}") from None
        if scenario.id in seen:
            raise ScenarioError(f"{source}:{number}: id {scenario.id!r} is used twice")
        seen.add(scenario.id)
        scenarios.append(scenario)
    if not scenarios:
        raise ScenarioError(f"{source}: no scenarios")
    return scenarios


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def load_scenarios(path: Path = SCENARIOS_PATH) -> list[Scenario]:
    """The scenarios of a JSONL file, validated."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(f"cannot read {path}: {error.strerror}") from None
    return parse_scenarios(text.splitlines(), str(path))


def select(scenarios: Sequence[Scenario], only: Sequence[str]) -> list[Scenario]:
    """The scenarios having one of the `only` tags or ids (all of them when `only` is empty)."""
    wanted = {item.strip() for item in only if item.strip()}
    if not wanted:
        return list(scenarios)
    known = {tag for s in scenarios for tag in s.tags} | {s.id for s in scenarios}
    unknown = sorted(wanted - known)
    if unknown:
        tags = ", ".join(sorted({tag for s in scenarios for tag in s.tags}))
        raise ScenarioError(f"no scenario has tag or id {', '.join(unknown)}; tags: {tags}")
    return [s for s in scenarios if wanted & ({s.id} | set(s.tags))]
