"""Scoring: one turn's form against its scenario's constraints, and the aggregate metrics.

A turn is scored from the form before it, the form after it (None when the model's output was
unusable) and the Questions of the answer. The metrics (see README.md, "Evaluate a model") are
computed from the results of every run of every scenario; each is a `Ratio`, so that the
report shows the counts behind every percentage.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiops.catalog import image_repository
from aiops.eval.scenarios import CATEGORY_TAGS, Check, Scenario, Turn, checks_of, memory_mib
from aiops.form import FIELDS

OTHERS = "others"
QUESTIONS = "questions"

# Turn statuses: the model answered (ok) or its output was unusable twice (invalid); the
# provider failed (provider_error) or the eval itself did (error); an earlier turn of the chain
# did not produce a form (skipped).
OK, INVALID, PROVIDER_ERROR, ERROR, SKIPPED = "ok", "invalid", "provider_error", "error", "skipped"
PROVIDER_CODES = frozenset({"invalid_token", "rate_limited", "upstream_error", "upstream_timeout"})
KEPT_PREVIOUS = "kept_previous_value"  # the Warnings code of a field that kept its value


@dataclass
class CheckResult:
    """One constraint of one turn: on a form field, on the other fields, or on Questions."""

    field: str
    rule: str
    passed: bool
    actual: Any = None


@dataclass
class TurnResult:
    """What one turn of one run did, and how it scored."""

    index: int
    user: str
    status: str
    checks: list[CheckResult] = field(default_factory=list)
    unrequested: list[str] = field(default_factory=list)
    kept_previous: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    questions_expected: bool | None = False
    changes: dict[str, Any] = field(default_factory=dict)
    reply: str = ""
    warnings: list[dict[str, str]] = field(default_factory=list)
    error: dict[str, str] | None = None
    usage: dict[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    retries: int = 0

    @property
    def passed(self) -> bool:
        return self.status == OK and all(check.passed for check in self.checks)

    @property
    def model_answered(self) -> bool:
        """The model produced output for this turn, usable or not (the quality metrics' base)."""
        return self.status in (OK, INVALID)

    @property
    def invalid(self) -> bool:
        return self.status == INVALID or (self.status == OK and bool(self.kept_previous))

    @property
    def field_checks(self) -> list[CheckResult]:
        return [check for check in self.checks if check.field in FIELDS]


@dataclass
class RunResult:
    """One run of a scenario: its turns in order."""

    run: int
    turns: list[TurnResult]

    @property
    def passed(self) -> bool:
        return all(turn.passed for turn in self.turns)

    @property
    def tokens(self) -> int:
        return sum(turn.usage.get("total_tokens", 0) for turn in self.turns)

    @property
    def latency_s(self) -> float:
        return sum(turn.latency_s for turn in self.turns)

    def summary(self) -> str:
        """One word or phrase for the progress line: pass, FAIL (what), invalid, error code."""
        for turn in self.turns:
            if turn.status in (PROVIDER_ERROR, ERROR):
                return f"error {turn.error['code'] if turn.error else ''} (turn {turn.index})"
            if turn.status == INVALID:
                return f"invalid output (turn {turn.index})"
            failed = [_failure(check) for check in turn.checks if not check.passed]
            if failed:
                return f"FAIL turn {turn.index}: {', '.join(failed)}"
        return "pass"


def _failure(check: CheckResult) -> str:
    if check.field == OTHERS:
        return f"unrequested {'/'.join(check.actual or [])}"
    return check.field


@dataclass
class ScenarioResult:
    scenario: Scenario
    runs: list[RunResult]

    @property
    def passed_first(self) -> bool:
        return bool(self.runs) and self.runs[0].passed

    @property
    def passed_all(self) -> bool:
        return bool(self.runs) and all(run.passed for run in self.runs)


# --- one turn -------------------------------------------------------------------------------


def score_turn(
    turn: Turn,
    before: Mapping[str, Any],
    after: Mapping[str, Any] | None,
    questions: Sequence[str],
) -> tuple[list[CheckResult], list[str]]:
    """The turn's constraints checked against `after` (all failing when it is None), and the
    fields that changed although the turn did not expect them to (unrequested changes)."""
    checks = [
        field_check(name, spec, before, after)
        for name in FIELDS
        if (spec := turn.expect.get(name)) is not None and spec != "any"
    ]
    unrequested = [] if after is None else unrequested_changes(turn, before, after)
    if turn.others == "unchanged":
        unlisted = [name for name in unrequested if name not in turn.expect]
        checks.append(
            CheckResult(
                OTHERS, "no other field changed", after is not None and not unlisted, unlisted
            )
        )
    if turn.questions:
        checks.append(
            CheckResult(QUESTIONS, "Questions not empty", bool(questions), list(questions))
        )
    return checks, unrequested


def unrequested_changes(
    turn: Turn, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[str]:
    """Form fields whose value changed although the turn neither asked nor allowed it."""
    return [
        name
        for name in FIELDS
        if not same(before.get(name), after.get(name)) and not turn.may_change(name)
    ]


def field_check(
    name: str, spec: Any, before: Mapping[str, Any], after: Mapping[str, Any] | None
) -> CheckResult:
    """One field's spec ("unchanged" or its checks, all of which must hold)."""
    actual = None if after is None else after.get(name)
    if spec == "unchanged":
        passed = after is not None and same(before.get(name), actual)
        return CheckResult(name, f"unchanged ({_shown(before.get(name))})", passed, actual)
    checks = checks_of(spec)
    rule = " and ".join(describe(check) for check in checks)
    passed = after is not None and all(holds(check, name, actual) for check in checks)
    return CheckResult(name, rule, passed, actual)


def holds(check: Check, name: str, actual: Any) -> bool:
    """Whether `actual`, the value of field `name`, meets the check."""
    operator = check.operator()
    if operator == "not":
        assert check.not_ is not None
        return not holds(check.not_, name, actual)
    if operator == "eq":
        return same(actual, check.eq)
    if operator == "in":
        return any(same(actual, value) for value in check.in_ or [])
    if operator == "range":
        return _within(name, actual, check.min, check.max)
    if operator == "repo":
        wanted = [check.repo] if isinstance(check.repo, str) else list(check.repo or [])
        have = image_repository(actual) if isinstance(actual, str) else ""
        return bool(have) and have in {image_repository(repo) for repo in wanted}
    if operator == "env":
        return any(
            item.get("name") == check.env
            and (check.value is None or item.get("value") == check.value)
            for item in _items(actual)
        )
    if operator == "no_env":
        return all(item.get("name") != check.no_env for item in _items(actual))
    if operator == "storage":
        return any(
            _same_path(item.get("value"), check.storage)
            and (
                check.min_capacity is None or _number(item.get("capacity"), 0) >= check.min_capacity
            )
            for item in _items(actual)
        )
    if operator == "file":
        return any(
            _same_path(item.get("file_path"), check.file)
            and (check.file_contains or "") in str(item.get("file_content", ""))
            for item in _items(actual)
        )
    if operator == "contains":
        return isinstance(actual, str) and (check.contains or "") in actual
    raise ValueError(f"unknown operator {operator}")


def describe(check: Check) -> str:
    """The check in words, for the report: `= "2G"`, `repo mysql`, `has env TZ=Asia/Shanghai`."""
    operator = check.operator()
    if operator == "not":
        assert check.not_ is not None
        return f"not ({describe(check.not_)})"
    if operator == "eq":
        return f"= {_shown(check.eq)}"
    if operator == "in":
        return "in " + _shown(check.in_)
    if operator == "range":
        bounds = [
            f"≥ {check.min}" if check.min is not None else "",
            f"≤ {check.max}" if check.max is not None else "",
        ]
        return " and ".join(b for b in bounds if b)
    if operator == "repo":
        return "repo " + (
            check.repo if isinstance(check.repo, str) else " or ".join(check.repo or [])
        )
    if operator == "env":
        return f"has env {check.env}" + (f"={check.value}" if check.value is not None else "")
    if operator == "no_env":
        return f"no env {check.no_env}"
    if operator == "storage":
        size = f" ≥ {check.min_capacity}Gi" if check.min_capacity is not None else ""
        return f"storage at {check.storage}{size}"
    if operator == "file":
        holding = f" holding {_shown(check.file_contains)}" if check.file_contains else ""
        return f"file at {check.file}{holding}"
    return f"contains {_shown(check.contains)}"


def same(a: Any, b: Any) -> bool:
    """Equal as form values: 1 equals 1.0 (not True); lists of objects in any order."""
    return _canonical(a) == _canonical(b)


def _canonical(value: Any) -> str:
    def fold(item: Any) -> Any:
        if isinstance(item, bool) or item is None or isinstance(item, str):
            return item
        if isinstance(item, int | float):
            return float(item)
        if isinstance(item, Mapping):
            return {str(k): fold(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            folded = [fold(v) for v in item]
            if all(isinstance(v, dict) for v in folded):
                return sorted(folded, key=lambda v: json.dumps(v, sort_keys=True))
            return folded
        return str(item)

    return json.dumps(fold(value), sort_keys=True, ensure_ascii=False)


def _within(name: str, actual: Any, low: float | str | None, high: float | str | None) -> bool:
    if name == "memory":
        size = memory_mib(actual) if isinstance(actual, str) else None
        low_n = memory_mib(low) if isinstance(low, str) else None
        high_n = memory_mib(high) if isinstance(high, str) else None
    else:
        size = None if isinstance(actual, bool) else _number(actual, None)
        low_n, high_n = low, high  # type: ignore[assignment]
    if size is None:
        return False
    return (low_n is None or size >= float(low_n)) and (high_n is None or size <= float(high_n))


def _number(value: Any, default: float | None) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _same_path(path: Any, wanted: str | None) -> bool:
    return isinstance(path, str) and wanted is not None and path.rstrip("/") == wanted.rstrip("/")


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- the metrics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ratio:
    """A share with the counts behind it; `value` is None when nothing was counted."""

    hits: int
    total: int

    @property
    def value(self) -> float | None:
        return self.hits / self.total if self.total else None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "hits": self.hits, "total": self.total}


@dataclass(frozen=True)
class Spread:
    """The median per scenario run and the total of a quantity (tokens, seconds)."""

    median: float | None
    total: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values) if values else None, sum(values))

    def as_dict(self) -> dict[str, Any]:
        return {"median_per_scenario_run": self.median, "total": self.total}


@dataclass(frozen=True)
class Metrics:
    """The aggregate scores of an evaluation (defined in README.md ("Evaluate a model"))."""

    scenarios: int
    runs: int
    turns: int
    pass_at_1: Ratio
    pass_all: Ratio
    pass_rate: Ratio
    field_accuracy: Ratio
    unrequested_changes: Ratio
    unrequested_fields: int
    invalid_output: Ratio
    questions_precision: Ratio
    questions_recall: Ratio
    tokens: Spread
    latency_s: Spread
    llm_calls: int
    provider_errors: dict[str, int]
    rate_limit_retries: int
    eval_errors: int
    skipped_turns: int

    def as_dict(self) -> dict[str, Any]:
        ratios = {
            name: getattr(self, name).as_dict()
            for name in (
                "pass_at_1",
                "pass_all",
                "pass_rate",
                "field_accuracy",
                "unrequested_changes",
                "invalid_output",
                "questions_precision",
                "questions_recall",
            )
        }
        return {
            "scenarios": self.scenarios,
            "runs": self.runs,
            "turns": self.turns,
            **ratios,
            "tokens": self.tokens.as_dict(),
            "latency_s": self.latency_s.as_dict(),
            "llm_calls": self.llm_calls,
            "unrequested_fields": self.unrequested_fields,
            "provider_errors": dict(self.provider_errors),
            "rate_limit_retries": self.rate_limit_retries,
            "eval_errors": self.eval_errors,
            "skipped_turns": self.skipped_turns,
        }


def metrics(results: Sequence[ScenarioResult]) -> Metrics:
    """Every metric over the results of all runs of all scenarios."""
    runs = [run for result in results for run in result.runs]
    turns = [turn for run in runs for turn in run.turns]
    answered = [turn for turn in turns if turn.model_answered]
    usable = [turn for turn in answered if turn.status == OK]
    field_checks = [check for turn in answered for check in turn.field_checks]
    opinionated = [turn for turn in answered if turn.questions_expected is not None]
    asked = [turn for turn in opinionated if turn.questions]
    expected = [turn for turn in opinionated if turn.questions_expected]
    provider_errors: dict[str, int] = {}
    for turn in turns:
        if turn.status == PROVIDER_ERROR and turn.error:
            provider_errors[turn.error["code"]] = provider_errors.get(turn.error["code"], 0) + 1
    return Metrics(
        scenarios=len(results),
        runs=len(runs),
        turns=len(turns),
        pass_at_1=Ratio(sum(r.passed_first for r in results), len(results)),
        pass_all=Ratio(sum(r.passed_all for r in results), len(results)),
        pass_rate=Ratio(sum(run.passed for run in runs), len(runs)),
        field_accuracy=Ratio(sum(c.passed for c in field_checks), len(field_checks)),
        unrequested_changes=Ratio(sum(bool(t.unrequested) for t in usable), len(usable)),
        unrequested_fields=sum(len(t.unrequested) for t in usable),
        invalid_output=Ratio(sum(t.invalid for t in answered), len(answered)),
        questions_precision=Ratio(sum(bool(t.questions_expected) for t in asked), len(asked)),
        questions_recall=Ratio(sum(bool(t.questions) for t in expected), len(expected)),
        tokens=Spread.of([run.tokens for run in runs]),
        latency_s=Spread.of([run.latency_s for run in runs]),
        llm_calls=sum(turn.usage.get("llm_calls", 0) for turn in turns),
        provider_errors=provider_errors,
        rate_limit_retries=sum(turn.retries for turn in turns),
        eval_errors=sum(turn.status == ERROR for turn in turns),
        skipped_turns=sum(turn.status == SKIPPED for turn in turns),
    )


def by_category(results: Iterable[ScenarioResult]) -> dict[str, Metrics]:
    """The metrics of each category tag's scenarios."""
    results = list(results)
    return {
        tag: metrics(chosen)
        for tag in CATEGORY_TAGS
        if (chosen := [r for r in results if tag in r.scenario.tags])
    }
