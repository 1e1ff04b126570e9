"""`python -m aiops.eval`: evaluate a model on the scenarios and print the scores.

    python -m aiops.eval --base-url https://api.deepseek.com/v1 --model deepseek-chat \\
        [--api-key KEY] [--repeat K] [--only TAG[,TAG]] [--out report.json] [--concurrency N]
        [--retries R] [--timeout S] [--scenarios FILE] [--list]
    python -m aiops.eval --instant-only [--only TAG[,TAG]] [--out FILE] [--scenarios FILE]

--instant-only needs no model, endpoint or key: it reports per scenario set how many turns the
instant path answered and how many of those were right (`aiops/eval/instant.py`).

The key comes from --api-key, else OPENAI_API_KEY; it is never printed or written. Progress goes
to stderr, one line per scenario run; the table goes to stdout; the report to --out.
Exit status: 0 when the evaluation ran (whatever the scores), 2 when it could not start or was
stopped (bad arguments, bad scenario file, no key, key rejected on the first call); 130 on
Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from aiops.eval.instant import EVAL_KEY, render, run_instant, score_sets
from aiops.eval.instant import report as instant_report
from aiops.eval.report import build_report, render_table, scrubbed, write_report
from aiops.eval.runner import FatalProviderError, Job, Runner
from aiops.eval.scenarios import (
    SCENARIOS_PATH,
    Scenario,
    ScenarioError,
    load_scenarios,
    select,
)
from aiops.eval.scoring import RunResult
from aiops.settings import Settings


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m aiops.eval",
        description="Evaluate how well a model fills the deploy form, on eval/scenarios.jsonl, "
        "through the real service pipeline.",
    )
    cli.add_argument(
        "--base-url",
        type=_http_url,
        help="OpenAI-compatible endpoint, e.g. https://api.openai.com/v1 (required unless "
        "--instant-only)",
    )
    cli.add_argument("--model", help="model name at that endpoint (required unless --instant-only)")
    cli.add_argument(
        "--instant-only",
        action="store_true",
        help="no model: which turns the instant path answers, and whether rightly",
    )
    cli.add_argument(
        "--api-key", help="the provider key (default: $OPENAI_API_KEY); never printed or stored"
    )
    cli.add_argument(
        "--repeat",
        type=_positive,
        default=1,
        metavar="K",
        help="runs per scenario, for Pass^K (default 1)",
    )
    cli.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TAG",
        help="only scenarios with this tag or id; repeat or separate with commas",
    )
    cli.add_argument(
        "--out",
        type=Path,
        help="where to write the JSON report (default eval-report.json, with --instant-only "
        "eval-instant-report.json)",
    )
    cli.add_argument(
        "--concurrency",
        type=_positive,
        default=4,
        metavar="N",
        help="scenario runs in parallel (default 4)",
    )
    cli.add_argument(
        "--retries",
        type=_non_negative,
        default=2,
        metavar="R",
        help="tries again of a rate-limited (429) turn, after Retry-After (default 2)",
    )
    cli.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="deadline of one model call in seconds (default: AIOPS_LLM_TIMEOUT_S or 30)",
    )
    cli.add_argument(
        "--scenarios",
        type=Path,
        default=SCENARIOS_PATH,
        help="the scenario file (default eval/scenarios.jsonl)",
    )
    cli.add_argument(
        "--list",
        action="store_true",
        help="list the selected scenarios and exit, without calling the model",
    )
    return cli


def _http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("give the endpoint as http(s)://host[:port]/v1")
    return text.rstrip("/")


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if not args.instant_only and (args.base_url is None or args.model is None):
        cli.error("--base-url and --model are required (or use --instant-only)")
    try:
        scenarios = select(load_scenarios(args.scenarios), selectors(args))
    except ScenarioError as error:
        return _fail(str(error))
    if args.instant_only:
        return evaluate_instant(args, scenarios)
    args.out = args.out or Path("eval-report.json")
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.id}\t{len(scenario.turns)} turn(s)\t{' '.join(scenario.tags)}")
        return 0
    api_key = args.api_key or os.environ.get("OPENAI_API_KEY", "")
    if not api_key:
        return _fail(
            "no API key: pass --api-key or set OPENAI_API_KEY "
            "(local servers such as Ollama or vLLM accept any value, e.g. --api-key local)"
        )
    try:
        settings = eval_settings(args.base_url, args.model, args.timeout)
    except ValidationError as error:
        return _fail(f"bad settings: {error.errors()[0]['msg']}")

    return evaluate(args, scenarios, settings, api_key)


def evaluate(
    args: argparse.Namespace, scenarios: list[Scenario], settings: Settings, api_key: str
) -> int:
    """Run the scenarios, print the table, write the report; the exit status."""
    started = datetime.now(UTC)

    def progress(done: int, total: int, job: Job, result: RunResult) -> None:
        _progress(done, total, job, result, args.repeat, api_key)

    runner = Runner(
        settings,
        api_key,
        repeat=args.repeat,
        concurrency=args.concurrency,
        retries=args.retries,
        progress=progress,
    )
    try:
        results = runner.run(scenarios)
    except FatalProviderError as error:
        return _fail(f"stopped: {error}")
    except KeyboardInterrupt:
        _fail("interrupted: no report written")
        return 130
    report = build_report(
        results,
        settings,
        repeat=args.repeat,
        only=selectors(args),
        scenarios_file=str(args.scenarios),
        started=started,
    )
    print(scrubbed(render_table(results, report), api_key))
    try:
        write_report(report, args.out, api_key)
    except OSError as error:
        return _fail(f"the report could not be written to {args.out}: {error.strerror}")
    print(f"\nreport: {args.out}")
    return 0


def evaluate_instant(args: argparse.Namespace, scenarios: list[Scenario]) -> int:
    """The instant path alone on the scenarios: the table on stdout, the report to --out."""
    try:
        settings = Settings()
    except ValidationError as error:
        return _fail(f"bad settings: {error.errors()[0]['msg']}")
    turns = run_instant(scenarios, settings)
    scores = score_sets(turns)
    print(render(scores, turns))
    out = args.out or Path("eval-instant-report.json")
    try:
        write_report(instant_report(scores, turns, str(args.scenarios)), out, EVAL_KEY)
    except OSError as error:
        return _fail(f"the report could not be written to {out}: {error.strerror}")
    print(f"\nreport: {out}")
    return 0


def selectors(args: argparse.Namespace) -> list[str]:
    """The tags and ids of --only, given as repeated options or separated by commas."""
    return [part.strip() for item in args.only for part in item.split(",") if part.strip()]


def eval_settings(base_url: str, model: str, timeout_s: float | None) -> Settings:
    """The service's settings from the environment, with the endpoint and model of the flags.
    Instant edits are off: every turn is the model's (`--instant-only` measures them)."""
    overrides: dict[str, object] = {
        "openai_base_url": base_url,
        "model": model,
        "instant_edits": False,
    }
    if timeout_s is not None:
        overrides["llm_timeout_s"] = timeout_s
    return Settings(**overrides)  # type: ignore[arg-type]


def _progress(done: int, total: int, job: Job, result: RunResult, repeat: int, key: str) -> None:
    width = len(str(total))
    run = f" #{job.run}" if repeat > 1 else ""
    line = f"[{done:>{width}}/{total}] {job.scenario.id}{run} … {result.summary()}"
    sys.stderr.write(scrubbed(line, key) + "\n")  # one write: lines from threads stay whole
    sys.stderr.flush()


def _fail(message: str) -> int:
    print(f"aiops.eval: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
