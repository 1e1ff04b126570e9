"""`python -m aiops.eval --instant-only`: which scenario turns the instant path answers (README
"Instant edits"), and whether each of those answers is right, without any model.

Each scenario runs through the real service pipeline (`aiops.service.Generation`, an in-memory
store, history by `parent_message_id`), except that a turn the instant path leaves to the model
is not sent anywhere: it is counted as declined, and the scenario's later turns as unreachable
(their starting form would be the model's answer). An answered turn is scored with the same
checks as a model's answer (`aiops.eval.scoring.score_turn`); precision is the share of answered
turns whose checks all pass, coverage the share of turns answered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from aiops import instant
from aiops.api import GenRequest
from aiops.app import App
from aiops.eval.scenarios import CATEGORY_TAGS, LANGUAGE_TAGS, Scenario
from aiops.eval.scoring import score_turn
from aiops.service import Generation, Outcome
from aiops.settings import Settings
from aiops.store import MemoryStore, Store

ANSWERED, DECLINED, UNREACHABLE = "answered", "declined", "unreachable"
EVAL_KEY = "sk-test-instant-eval-0000000000"  # owns the conversations; sent nowhere


class _Declined(Exception):
    """The instant path left the turn to the model."""


class _NoModel(Generation):
    """The service's pipeline with the model call replaced by "declined"."""

    def ask(self, *_: Any) -> Outcome:
        raise _Declined


@dataclass
class InstantTurn:
    scenario: str
    index: int
    user: str
    tags: list[str]
    status: str
    right: bool | None = None
    failed: list[str] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)


def run_instant(
    scenarios: Sequence[Scenario], settings: Settings, store: Store | None = None
) -> list[InstantTurn]:
    """Every turn of every scenario, answered instantly, declined or unreachable."""
    settings = settings.model_copy(update={"instant_edits": True})
    app = App(settings, store or MemoryStore())
    turns: list[InstantTurn] = []
    for scenario in scenarios:
        form: dict[str, Any] = dict(scenario.form)
        parent: str | None = None
        reachable = True
        for index, turn in enumerate(scenario.turns, start=1):
            result = InstantTurn(scenario.id, index, turn.user[:200], scenario.tags, UNREACHABLE)
            turns.append(result)
            if not reachable:
                continue
            request = GenRequest(user_input=turn.user, params=form, parent_message_id=parent)
            try:
                answer = _NoModel(request, EVAL_KEY, app).run()
            except _Declined:
                result.status, reachable = DECLINED, False
                continue
            assert answer.Model == instant.MODEL and answer.Usage.llm_calls == 0
            after = json.loads(answer.GenParamsStr)
            checks, _ = score_turn(turn, form, after, answer.Questions)
            result.status = ANSWERED
            result.right = all(check.passed for check in checks)
            result.failed = [f"{c.field}: {c.rule}" for c in checks if not c.passed]
            result.changes = dict(answer.Changes)
            form, parent = after, answer.MessageId
    return turns


@dataclass(frozen=True)
class SetScore:
    """The instant path on one set of turns (a category or language tag, or all)."""

    name: str
    turns: int
    reachable: int
    answered: int
    right: int

    @property
    def precision(self) -> float | None:
        return self.right / self.answered if self.answered else None

    @property
    def coverage(self) -> float | None:
        return self.answered / self.turns if self.turns else None

    @property
    def reachable_coverage(self) -> float | None:
        return self.answered / self.reachable if self.reachable else None

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "precision": self.precision,
            "coverage": self.coverage,
            "coverage_of_reachable": self.reachable_coverage,
        }


def score_sets(turns: Sequence[InstantTurn]) -> list[SetScore]:
    """All turns, then each category tag, then each language tag, in that order."""
    names = ["all", *CATEGORY_TAGS, *LANGUAGE_TAGS]
    scores = []
    for name in names:
        chosen = [t for t in turns if name == "all" or name in t.tags]
        if not chosen:
            continue
        scores.append(
            SetScore(
                name=name,
                turns=len(chosen),
                reachable=sum(1 for t in chosen if t.status != UNREACHABLE),
                answered=sum(1 for t in chosen if t.status == ANSWERED),
                right=sum(1 for t in chosen if t.right),
            )
        )
    return scores


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def render(scores: Sequence[SetScore], turns: Sequence[InstantTurn]) -> str:
    """The table, then every answered turn that was wrong (none, one hopes)."""
    header = ("set", "turns", "reachable", "instant", "right", "precision", "coverage", "of reach.")
    rows = [header] + [
        (
            s.name,
            str(s.turns),
            str(s.reachable),
            str(s.answered),
            str(s.right),
            _percent(s.precision),
            _percent(s.coverage),
            _percent(s.reachable_coverage),
        )
        for s in scores
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    wrong = [t for t in turns if t.status == ANSWERED and not t.right]
    for turn in wrong:
        lines.append(f"WRONG {turn.scenario} turn {turn.index}: {turn.user!r}: {turn.failed}")
    return "\n".join(lines)


def report(scores: Sequence[SetScore], turns: Sequence[InstantTurn], source: str) -> dict[str, Any]:
    return {
        "kind": "instant-only",
        "scenarios_file": source,
        "sets": {s.name: s.as_dict() for s in scores},
        "turns": [asdict(t) for t in turns],
    }
