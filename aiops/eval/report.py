"""The evaluation's outputs: the JSON report (every constraint of every turn of every run, the
metrics, and what was evaluated) and the table printed at the end.

Neither ever holds the API key: `scrubbed` removes it from anything written, as a last guard,
by the service's own rule (aiops.secret_values: a key shorter than 16 characters, such as a
local server's `EMPTY`, is no secret and left as it is).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiops import prompt, secret_values
from aiops.eval.scoring import (
    PROVIDER_ERROR,
    Metrics,
    Ratio,
    ScenarioResult,
    Spread,
    by_category,
    metrics,
)
from aiops.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BASE_URL = "https://api.openai.com/v1"


def base_url_host(base_url: str | None) -> str:
    """The host (and port) of a base URL, without credentials or path."""
    parts = urlsplit(base_url or DEFAULT_BASE_URL)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port else host


def git_commit(root: Path = REPO_ROOT) -> dict[str, Any] | None:
    """The checked-out commit and whether the tree has uncommitted changes; None without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def prompt_fingerprint(settings: Settings) -> str:
    """A short hash of the static instructions: tells apart runs with different prompts."""
    text = prompt.instructions(settings.limits())
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build_report(
    results: list[ScenarioResult],
    settings: Settings,
    *,
    repeat: int,
    only: list[str],
    scenarios_file: str,
    started: datetime,
) -> dict[str, Any]:
    """The whole report as JSON-ready data."""
    overall = metrics(results)
    return {
        "model": settings.model,
        "base_url_host": base_url_host(settings.openai_base_url),
        "date": started.astimezone(UTC).isoformat(timespec="seconds"),
        "git": git_commit(),
        "prompt_sha256": prompt_fingerprint(settings),
        "scenarios_file": scenarios_file,
        "only": only,
        "repeat": repeat,
        "metrics": overall.as_dict(),
        "by_category": {tag: m.as_dict() for tag, m in by_category(results).items()},
        "scenarios": [scenario_entry(result) for result in results],
    }


def scenario_entry(result: ScenarioResult) -> dict[str, Any]:
    return {
        "id": result.scenario.id,
        "tags": result.scenario.tags,
        "passed_first_run": result.passed_first,
        "passed_all_runs": result.passed_all,
        "runs": [
            {
                "run": run.run,
                "passed": run.passed,
                "tokens": run.tokens,
                "latency_s": round(run.latency_s, 3),
                "turns": [
                    {**asdict(turn), "passed": turn.passed, "latency_s": round(turn.latency_s, 3)}
                    for turn in run.turns
                ],
            }
            for run in result.runs
        ],
    }


def scrubbed(text: str, api_key: str) -> str:
    """`text` without the API key, should it ever have slipped in (aiops.secret_values's scrub)."""
    return secret_values.without_key(text, api_key, "***")


def write_report(report: dict[str, Any], path: Path, api_key: str) -> None:
    text = json.dumps(report, ensure_ascii=False, indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrubbed(text, api_key) + "\n", encoding="utf-8")


# --- the table ------------------------------------------------------------------------------


def percent(ratio: Ratio) -> str:
    return "n/a" if ratio.value is None else f"{100 * ratio.value:.1f} %"


def _spread(spread: Spread, unit: str, digits: int) -> str:
    median = "n/a" if spread.median is None else f"{spread.median:,.{digits}f}{unit}"
    return f"{median} median, {spread.total:,.{digits}f}{unit} total"


def _row(name: str, ratio: Ratio, counted: str) -> tuple[str, str, str]:
    return (name, percent(ratio), f"{ratio.hits}/{ratio.total} {counted}")


def metric_rows(m: Metrics, repeat: int) -> list[tuple[str, str, str]]:
    """(metric, value, what it counts) for the table."""
    errors = ", ".join(f"{code} {n}" for code, n in sorted(m.provider_errors.items())) or "none"
    if m.rate_limit_retries:
        errors += f" ({m.rate_limit_retries} rate-limited turns tried again)"
    return [
        _row("Pass@1", m.pass_at_1, "scenarios pass run 1"),
        _row(f"Pass^{repeat}", m.pass_all, "scenarios pass " + _all_runs(repeat)),
        _row("field accuracy", m.field_accuracy, "field checks hold"),
        _row("unrequested changes", m.unrequested_changes, "turns changed an unrequested field"),
        _row("invalid output", m.invalid_output, "turns unusable or kept a previous value"),
        _row("questions precision", m.questions_precision, "turns that asked should have"),
        _row("questions recall", m.questions_recall, "turns that should ask did"),
        ("tokens / scenario run", _spread(m.tokens, "", 0), f"{m.llm_calls} model calls"),
        (
            "latency / scenario run",
            _spread(m.latency_s, " s", 1),
            f"{m.turns} turns, {m.runs} runs",
        ),
        ("provider errors", str(sum(m.provider_errors.values())), errors),
    ]


def _all_runs(repeat: int) -> str:
    return "their run" if repeat == 1 else f"all {repeat} runs"


def first_provider_error(results: list[ScenarioResult]) -> str | None:
    """The message of the first provider error, to tell a bad URL or model from bad luck."""
    for result in results:
        for run in result.runs:
            for turn in run.turns:
                if turn.status == PROVIDER_ERROR and turn.error:
                    return f"{turn.error['code']}: {turn.error['message']}"
    return None


def category_rows(results: list[ScenarioResult], repeat: int) -> list[tuple[str, ...]]:
    """Per category tag: scenarios, Pass@1, Pass^K, field accuracy, unrequested changes."""
    rows: list[tuple[str, ...]] = [
        ("category", "scenarios", "Pass@1", f"Pass^{repeat}", "field acc.", "unrequested")
    ]
    for tag, c in by_category(results).items():
        scores = (c.pass_at_1, c.pass_all, c.field_accuracy, c.unrequested_changes)
        rows.append((tag, str(c.scenarios), *(percent(score) for score in scores)))
    return rows


def render_table(results: list[ScenarioResult], report: dict[str, Any]) -> str:
    """The summary printed at the end of a run."""
    repeat = report["repeat"]
    m = metrics(results)
    lines = [
        f"AIops eval: model {report['model']} at {report['base_url_host']}, "
        f"{m.scenarios} scenarios x {repeat} run(s), {m.turns} turns",
        "",
        *_aligned([("metric", "value", "counts"), *metric_rows(m, repeat)]),
    ]
    first_error = first_provider_error(results)
    if first_error:
        lines.append(f"(first provider error: {first_error})")
    if m.eval_errors or m.skipped_turns:
        lines.append(
            f"(eval errors: {m.eval_errors}; "
            f"turns skipped after a turn without a form: {m.skipped_turns})"
        )
    categories = category_rows(results, repeat)
    if len(categories) > 2:
        lines += ["", *_aligned(categories)]
    failed = [r.scenario.id for r in results if not r.passed_all]
    if failed:
        more = f" and {len(failed) - 20} more" if len(failed) > 20 else ""
        lines += ["", f"failed: {', '.join(failed[:20])}{more}"]
    return "\n".join(lines)


def _aligned(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
