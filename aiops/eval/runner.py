"""Running scenarios through the real service pipeline (`aiops.service.Generation`).

Each run of a scenario is one conversation: the first turn sends the scenario's starting form,
each later turn sends the previous answer's form (`GenParamsStr`) and its `MessageId` as
`parent_message_id`, so that the service loads real history from an in-memory store. Runs go
in parallel (`concurrency` threads); the turns of a run go in order.

Provider failures (401, 429, 5xx, timeouts) are recorded on the turn and counted; they never
stop the run, except an authentication failure (or an unknown model) on the very first call,
which would fail every call after it: that raises `FatalProviderError`. A rate-limited turn is
tried again up to `retries` times, after the provider's Retry-After (at most 30 s), since a 429
says nothing about the model; the service itself already retries 5xx and transport failures.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from aiops.api import ApiError, GenRequest
from aiops.app import App
from aiops.eval.scenarios import Scenario
from aiops.eval.scoring import (
    ERROR,
    INVALID,
    KEPT_PREVIOUS,
    OK,
    PROVIDER_CODES,
    PROVIDER_ERROR,
    SKIPPED,
    RunResult,
    ScenarioResult,
    TurnResult,
    score_turn,
)
from aiops.service import Generation
from aiops.settings import Settings
from aiops.store import MemoryStore, Store

_USER_CHARS_IN_REPORT = 300
_MAX_RETRY_WAIT_S = 30.0


class FatalProviderError(Exception):
    """The first call showed that no call can succeed (bad key, unknown model)."""


@dataclass(frozen=True)
class Job:
    scenario: Scenario
    run: int  # 1-based


Progress = Callable[[int, int, Job, RunResult], None]


class Runner:
    """Runs scenarios against one model, `repeat` times each, on `concurrency` threads."""

    def __init__(
        self,
        settings: Settings,
        api_key: str,
        *,
        repeat: int = 1,
        concurrency: int = 4,
        retries: int = 2,
        store: Store | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.api_key = api_key
        self.repeat = max(repeat, 1)
        self.concurrency = max(concurrency, 1)
        self.retries = max(retries, 0)
        self.store = store or MemoryStore()
        self.app = App(settings, self.store)  # one for the whole run, as in a process
        self.progress = progress
        self._done = 0
        self._lock = threading.Lock()

    def run(self, scenarios: Sequence[Scenario]) -> list[ScenarioResult]:
        """Every run of every scenario, in the scenarios' order."""
        jobs = [Job(s, run) for run in range(1, self.repeat + 1) for s in scenarios]
        runs: dict[tuple[str, int], RunResult] = {}
        if not jobs:
            return []
        first = self._job(jobs[0], len(jobs))
        stop_if_hopeless(first.turns[0])
        runs[(jobs[0].scenario.id, 1)] = first
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            futures = {pool.submit(self._job, job, len(jobs)): job for job in jobs[1:]}
            for future in as_completed(futures):
                job = futures[future]
                runs[(job.scenario.id, job.run)] = future.result()
        except BaseException:  # Ctrl-C: drop the runs not started yet instead of waiting for them
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return [
            ScenarioResult(s, [runs[(s.id, run)] for run in range(1, self.repeat + 1)])
            for s in scenarios
        ]

    def _job(self, job: Job, total: int) -> RunResult:
        result = run_scenario(job.scenario, job.run, self.app, self.api_key, self.retries)
        with self._lock:  # one progress line at a time, counted in order
            self._done += 1
            if self.progress is not None:
                self.progress(self._done, total, job, result)
        return result


def stop_if_hopeless(turn: TurnResult) -> None:
    """Raise FatalProviderError when the first call failed in a way every call will."""
    if turn.status != PROVIDER_ERROR or turn.error is None:
        return
    if turn.error["code"] == "invalid_token":
        raise FatalProviderError(
            "the provider rejected the API key (401) on the first call: check --api-key "
            "(or OPENAI_API_KEY) and that --base-url is the provider the key belongs to"
        )
    if turn.error.get("field") == "model":
        raise FatalProviderError(f"the first call failed: {turn.error['message']}")


def run_scenario(
    scenario: Scenario, run: int, app: App, api_key: str, retries: int = 0
) -> RunResult:
    """One run of a scenario: its turns in order, each scored; after a turn that produced no
    form, the remaining turns are skipped."""
    form: dict[str, Any] = dict(scenario.form)
    parent: str | None = None
    turns: list[TurnResult] = []
    for index, turn in enumerate(scenario.turns, start=1):
        if turns and turns[-1].status != OK:
            turns.append(
                TurnResult(index, _clip(turn.user), SKIPPED, questions_expected=turn.questions)
            )
            continue
        result, answer_form, message_id = run_turn_retrying(
            scenario, index, form, parent, app, api_key, retries
        )
        turns.append(result)
        if answer_form is not None:
            form, parent = answer_form, message_id
    return RunResult(run, turns)


def run_turn_retrying(
    scenario: Scenario,
    index: int,
    form: dict[str, Any],
    parent: str | None,
    app: App,
    api_key: str,
    retries: int,
) -> tuple[TurnResult, dict[str, Any] | None, str | None]:
    """`run_turn`, tried again up to `retries` times while the provider rate-limits it."""
    attempt = 0
    while True:
        result, form_after, message_id = run_turn(scenario, index, form, parent, app, api_key)
        result.retries = attempt
        if not (result.error and result.error["code"] == "rate_limited") or attempt >= retries:
            return result, form_after, message_id
        attempt += 1
        time.sleep(_retry_wait(result.error, attempt))


def run_turn(
    scenario: Scenario,
    index: int,
    form: dict[str, Any],
    parent: str | None,
    app: App,
    api_key: str,
) -> tuple[TurnResult, dict[str, Any] | None, str | None]:
    """Ask the service for one turn; the scored result, the new form and its MessageId."""
    turn = scenario.turns[index - 1]
    request = GenRequest(user_input=turn.user, params=form, parent_message_id=parent)
    generation = Generation(request, api_key, app)
    result = TurnResult(index, _clip(turn.user), OK, questions_expected=turn.questions)
    started = time.perf_counter()
    try:
        answer = generation.run()
    except ApiError as error:
        result.latency_s = time.perf_counter() - started
        result.usage = generation.trace.usage.model_dump()
        result.status = _status_of(error.code)
        result.error = {"code": error.code, "message": error.message, "field": error.field or ""}
        if error.retry_after:
            result.error["retry_after"] = error.retry_after
        if result.status == INVALID:
            result.checks, _ = score_turn(turn, form, None, [])
        return result, None, None
    except Exception as error:  # the eval must finish: an unexpected failure is one turn's error
        result.latency_s = time.perf_counter() - started
        result.status = ERROR
        result.error = {"code": "eval_error", "message": type(error).__name__, "field": ""}
        return result, None, None
    result.latency_s = time.perf_counter() - started
    after = json.loads(answer.GenParamsStr)
    result.checks, result.unrequested = score_turn(turn, form, after, answer.Questions)
    result.usage = answer.Usage.model_dump()
    result.questions = list(answer.Questions)
    result.changes = dict(answer.Changes)
    result.reply = answer.Reply
    result.warnings = [w.model_dump() for w in answer.Warnings]
    result.kept_previous = [w.field for w in answer.Warnings if w.code == KEPT_PREVIOUS]
    return result, after, answer.MessageId


def _retry_wait(error: dict[str, str], attempt: int) -> float:
    """Seconds to wait before trying a rate-limited turn again: Retry-After, else 2^n s."""
    try:
        wait = float(error.get("retry_after", ""))
    except ValueError:
        wait = 2.0**attempt
    return min(max(wait, 0.0), _MAX_RETRY_WAIT_S)


def _status_of(code: str) -> str:
    if code == "bad_model_output":
        return INVALID
    if code in PROVIDER_CODES:
        return PROVIDER_ERROR
    return ERROR


def _clip(text: str) -> str:
    if len(text) <= _USER_CHARS_IN_REPORT:
        return text
    return text[: _USER_CHARS_IN_REPORT - 1] + "…"
