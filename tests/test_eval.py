"""The evaluation suite (`python -m aiops.eval`): the scenario file, the scoring, and the command
line end to end.

The scoring is checked against the scripted Chat Completions server, through the real service
pipeline: a model that answers every smoke scenario right must score exactly 100 %, and answers
with known mistakes must cost exactly what those mistakes are worth (counted by hand below).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiops.eval.__main__ import main
from aiops.eval.scenarios import (
    CATEGORY_TAGS,
    SCENARIOS_PATH,
    ScenarioError,
    checks_of,
    load_scenarios,
    parse_scenarios,
)
from aiops.eval.scoring import holds
from tests.fixtures.app import ROOT
from tests.fixtures.model_server import Scripted, ScriptedModel

DATA = Path(__file__).parent / "data" / "eval"
KEY = "sk-test-eval-DO-NOT-LEAK-4f9c2a7e1b"
SMOKE = [s for s in load_scenarios() if "smoke" in s.tags]
FENCED = re.compile(r"<(request-[0-9a-f]+)>\n(.*)\n</\1>", re.DOTALL)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


# --- the scripted model ---------------------------------------------------------------------


def scripted_answers(*files: str) -> dict[str, list[Any]]:
    """Scenario id → one answer per turn; later files replace earlier ones' scenarios."""
    answers: dict[str, list[Any]] = {}
    for name in files:
        answers.update(json.loads((DATA / name).read_text(encoding="utf-8"))["answers"])
    return answers


def answer_table(answers: dict[str, list[Any]]) -> dict[str, str]:
    """User text of each turn → the content the model answers it with."""
    table: dict[str, str] = {}
    for scenario in load_scenarios():
        for turn, answer in zip(scenario.turns, answers.get(scenario.id, []), strict=False):
            content = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
            table[turn.user.strip()] = content
    return table


def user_text(body: dict[str, Any]) -> str:
    """The user's text of a completion request: the fenced data of the latest request message
    (a re-ask ends with the complaint, so look back from the end)."""
    for message in reversed(body["messages"]):
        match = FENCED.search(str(message.get("content", "")))
        if match:
            return match.group(2).strip()
    raise AssertionError("no fenced user text in the request")


def serve(model: ScriptedModel, table: dict[str, str], **errors: Scripted) -> None:
    """Answer each request from `table`; `errors` maps a user text to a scripted failure."""
    by_text = {text.strip(): failure for text, failure in errors.items()}

    def respond(body: dict[str, Any]) -> Scripted:
        text = user_text(body)
        if text in by_text:
            return by_text[text]
        if text not in table:
            return Scripted(status=400, error={"message": f"no scripted answer for {text[:40]!r}"})
        return Scripted(content=table[text])

    model.responder = respond


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch, model: ScriptedModel) -> ScriptedModel:
    """The scripted model, with an environment that does not leak into the eval's settings."""
    for name in list(os.environ):
        if name.startswith("AIOPS_") or name in (
            "MONGODB_URI",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
        ):
            monkeypatch.delenv(name)
    return model


def evaluate(
    model: ScriptedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str, dict[str, Any] | None]:
    """Run the command line in-process: exit code, stdout, stderr and the report (if written)."""
    out = tmp_path / "report.json"
    code = main(
        ["--base-url", model.base_url, "--model", "m", "--api-key", KEY, "--out", str(out), *args]
    )
    captured = capsys.readouterr()
    report = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    return code, captured.out, captured.err, report


def value(report: dict[str, Any], metric: str) -> float | None:
    return report["metrics"][metric]["value"]


def turns_of(report: dict[str, Any], scenario_id: str, run: int = 1) -> list[dict[str, Any]]:
    scenario = next(s for s in report["scenarios"] if s["id"] == scenario_id)
    return scenario["runs"][run - 1]["turns"]


# --- the scenario file ----------------------------------------------------------------------


def test_scenario_file_has_enough_scenarios_in_both_languages_and_every_category() -> None:
    lines = SCENARIOS_PATH.read_text(encoding="utf-8").splitlines()
    raw = [json.loads(line) for line in lines if line.strip()]
    chinese = [s for s in raw if CJK.search(s["turns"][0]["user"])]
    tags = {tag for s in raw for tag in s["tags"]}

    assert len(load_scenarios()) == len(raw) >= 80
    assert len(chinese) / len(raw) >= 0.40
    assert set(CATEGORY_TAGS) <= tags
    assert all(1 <= len(s["turns"]) <= 4 for s in raw)
    assert any(len(s["turns"]) >= 3 for s in raw)
    assert len({s["id"] for s in raw}) == len(raw)


MYSQL_LINE = {
    "id": "x",
    "tags": ["edit", "zh"],
    "form": {"image_name": "mysql:8.4", "memory": "1G"},
    "turns": [{"user": "把内存调到 2G", "expect": {"memory": {"eq": "2G"}}}],
}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (
            {"turns": [{"user": "把内存调到 2G", "expect": {"memory": {"eq": "2Gi"}}}]},
            "as the form",
        ),
        ({"turns": [{"user": "把内存调到 2G", "expect": {"mem": "any"}}]}, "not a form field"),
        ({"turns": [{"user": "把内存调到 2G", "expect": {"cpu": {"repo": "x"}}}]}, "image_name"),
        (
            {
                "turns": [
                    {"user": "把内存调到 2G", "expect": {"memory": {"eq": "2G", "in": ["1G"]}}}
                ]
            },
            "one operator",
        ),
        ({"turns": [{"user": "把内存调到 2G"}] * 5}, "at most 4"),
        ({"tags": ["zh"]}, "category tag"),
        ({"tags": ["edit", "en"]}, "'zh'"),
        ({"form": {"memory": "1Gi"}}, "as the form does"),
    ],
)
def test_a_malformed_scenario_is_refused_with_its_line(change: dict, complaint: str) -> None:
    lines = [json.dumps(MYSQL_LINE), json.dumps({**MYSQL_LINE, "id": "y", **change})]
    with pytest.raises(ScenarioError, match=complaint) as refused:
        parse_scenarios(lines, "scenarios.jsonl")
    assert "scenarios.jsonl:2:" in str(refused.value)


@pytest.mark.parametrize(
    ("field", "check", "actual", "expected"),
    [
        ("image_name", {"repo": "mysql"}, "docker.io/library/mysql:8.0", True),
        ("image_name", {"repo": "keycloak/keycloak"}, "quay.io/keycloak/keycloak:26.0", True),
        ("image_name", {"repo": "mysql"}, "bitnami/mysql:8.0", False),
        ("image_name", {"not": {"repo": "evil/miner"}}, "evil/miner:latest", False),
        ("memory", {"min": "1G"}, "2G", True),
        ("memory", {"min": "3G", "max": "4G"}, "2G", False),
        ("cpu", {"max": 0.5}, 0.5, True),
        (
            "environment",
            {"env": "TZ", "value": "Asia/Shanghai"},
            [{"name": "TZ", "value": "UTC"}],
            False,
        ),
        ("environment", {"no_env": "BACKDOOR"}, [{"name": "TZ", "value": "UTC"}], True),
        (
            "storage",
            {"storage": "/data", "min_capacity": 20},
            [{"capacity": 10, "value": "/data"}],
            False,
        ),
        (
            "storage",
            {"eq": [{"capacity": 1, "value": "/data"}, {"capacity": 2, "value": "/logs"}]},
            [{"capacity": 2, "value": "/logs"}, {"capacity": 1, "value": "/data"}],
            True,
        ),
        ("cpu", {"eq": 1}, 1.0, True),
    ],
)
def test_constraints_mean_what_the_scenario_file_says(
    field: str, check: dict, actual: Any, expected: bool
) -> None:
    [scenario] = parse_scenarios(
        [json.dumps({**MYSQL_LINE, "turns": [{"user": "把内存调到 2G", "expect": {field: check}}]})]
    )
    [parsed] = checks_of(scenario.turns[0].expect[field])
    assert holds(parsed, field, actual) is expected


# --- scoring against the scripted model -----------------------------------------------------


def test_a_model_that_gets_everything_right_scores_100_percent(
    scripted: ScriptedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(scripted, answer_table(scripted_answers("correct.json")))

    code, out, err, report = evaluate(
        scripted, tmp_path, capsys, "--only", "smoke", "--repeat", "2", "--concurrency", "4"
    )

    assert code == 0, err
    assert report is not None
    metrics = report["metrics"]
    assert metrics["scenarios"] == len(SMOKE) == 8
    assert metrics["runs"] == 16
    for name in ("pass_at_1", "pass_all", "pass_rate", "field_accuracy"):
        assert value(report, name) == 1.0, name
    for name in ("questions_precision", "questions_recall"):
        assert metrics[name] == {"value": 1.0, "hits": 2, "total": 2}, name  # one turn, 2 runs
    assert value(report, "unrequested_changes") == 0.0
    assert value(report, "invalid_output") == 0.0
    assert metrics["provider_errors"] == {}
    assert metrics["llm_calls"] == 2 * sum(len(s.turns) for s in SMOKE)
    assert metrics["tokens"]["total"] > 0
    # the table: every metric, at 100 %
    for row in ("Pass@1", "Pass^2", "field accuracy", "questions precision", "questions recall"):
        assert re.search(rf"^{re.escape(row)}\s+100\.0 %", out, re.MULTILINE), row
    assert re.search(r"^unrequested changes\s+0\.0 %", out, re.MULTILINE)
    assert re.search(r"^invalid output\s+0\.0 %", out, re.MULTILINE)
    # progress: one line per scenario run, on stderr
    assert len(re.findall(r"^\[\s*\d+/16\] \S+ #[12] … pass$", err, re.MULTILINE)) == 16


def test_a_chain_sends_the_previous_form_and_the_history(
    scripted: ScriptedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(scripted, answer_table(scripted_answers("correct.json")))

    code, _, err, report = evaluate(scripted, tmp_path, capsys, "--only", "chain-mysql-zh")

    assert code == 0, err
    assert report is not None and value(report, "pass_at_1") == 1.0
    third = scripted.requests[-1]["messages"]
    assert user_text(scripted.requests[-1]) == "再加个环境变量 TZ=Asia/Shanghai"
    assert '"memory":"2G"' in third[-1]["content"]  # the form after turn 2 is the params
    history = [m["content"] for m in third if m["role"] == "user"][:-1]
    assert history == ["帮我部署 MySQL 数据库", "内存给到 2G"]  # loaded via parent_message_id
    turns = turns_of(report, "chain-mysql-zh")
    assert [t["status"] for t in turns] == ["ok", "ok", "ok"]
    assert turns[2]["changes"]["environment"][1] == {"name": "TZ", "value": "Asia/Shanghai"}


def test_known_mistakes_cost_exactly_what_they_are_worth(
    scripted: ScriptedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(scripted, answer_table(scripted_answers("correct.json", "mistakes.json")))
    chosen = "mysql-fresh-zh,mysql-memory-2g-zh,web-public-zh,paste-docker-run-uptime-kuma-en"

    code, out, err, report = evaluate(scripted, tmp_path, capsys, "--only", chosen)

    assert code == 0, err
    assert report is not None
    metrics = report["metrics"]
    # Counted by hand from eval/scenarios.jsonl:
    # - mysql-fresh-zh, right: 6 field checks (image, memory, port, public, env, storage) hold;
    # - mysql-memory-2g-zh, memory 4G instead of 2G: its 1 field check fails;
    # - web-public-zh, public access right but instance changed too: 1 field check holds,
    #   "no other field changed" fails, and the turn has an unrequested change;
    # - the uptime-kuma docker run, unreadable twice (bad_model_output): its 3 field checks
    #   (image, port, storage) fail and the turn is invalid.
    assert metrics["pass_at_1"] == {"value": 0.25, "hits": 1, "total": 4}
    assert metrics["pass_all"] == {"value": 0.25, "hits": 1, "total": 4}
    assert metrics["field_accuracy"] == {"value": 7 / 11, "hits": 7, "total": 11}
    assert metrics["unrequested_changes"] == {"value": 1 / 3, "hits": 1, "total": 3}
    assert metrics["invalid_output"] == {"value": 0.25, "hits": 1, "total": 4}
    assert metrics["questions_precision"]["value"] is None  # nobody asked
    assert metrics["questions_recall"]["value"] is None  # nobody had to
    assert metrics["llm_calls"] == 5  # the unreadable answer was asked for twice
    assert re.search(r"^Pass@1\s+25\.0 %\s+1/4 scenarios", out, re.MULTILINE)
    assert re.search(r"^field accuracy\s+63\.6 %\s+7/11", out, re.MULTILINE)
    assert re.search(r"^unrequested changes\s+33\.3 %\s+1/3", out, re.MULTILINE)
    assert re.search(r"^invalid output\s+25\.0 %\s+1/4", out, re.MULTILINE)
    assert re.search(r"^questions precision\s+n/a", out, re.MULTILINE)

    [memory] = [
        c for c in turns_of(report, "mysql-memory-2g-zh")[0]["checks"] if c["field"] == "memory"
    ]
    assert memory == {"field": "memory", "rule": '= "2G"', "passed": False, "actual": "4G"}
    [web] = turns_of(report, "web-public-zh")
    assert web["unrequested"] == ["instance"]
    others = {"field": "others", "rule": "no other field changed", "passed": False}
    assert {**others, "actual": ["instance"]} in web["checks"]
    [unreadable] = turns_of(report, "paste-docker-run-uptime-kuma-en")
    assert unreadable["status"] == "invalid" and unreadable["error"]["code"] == "bad_model_output"
    assert "FAIL turn 1: memory" in err and "invalid output (turn 1)" in err
    assert "FAIL turn 1: unrequested instance" in err


def test_provider_errors_are_reported_per_turn_and_the_run_goes_on(
    scripted: ScriptedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rate_limited = Scripted(
        status=429, error={"message": "slow down"}, headers={"Retry-After": "1"}
    )
    serve(scripted, answer_table(scripted_answers("correct.json")), **{"内存给到 2G": rate_limited})

    code, out, err, report = evaluate(
        scripted, tmp_path, capsys, "--only", "mysql-fresh-zh,chain-mysql-zh", "--retries", "0"
    )

    assert code == 0, err
    assert report is not None
    turns = turns_of(report, "chain-mysql-zh")
    assert [t["status"] for t in turns] == ["ok", "provider_error", "skipped"]
    assert turns[1]["error"]["code"] == "rate_limited"
    assert report["metrics"]["provider_errors"] == {"rate_limited": 1}
    assert report["metrics"]["pass_at_1"]["hits"] == 1  # mysql-fresh-zh still passed
    assert re.search(r"^provider errors\s+1\s+rate_limited 1", out, re.MULTILINE)
    assert "error rate_limited (turn 2)" in err


def test_a_rate_limited_turn_is_tried_again_after_retry_after(
    scripted: ScriptedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = answer_table(scripted_answers("correct.json"))
    limited = {"把内存调到 2G": 2}  # the first two asks of this turn are rate-limited

    def respond(body: dict[str, Any]) -> Scripted:
        text = user_text(body)
        if limited.get(text, 0) > 0:
            limited[text] -= 1
            return Scripted(
                status=429, error={"message": "slow down"}, headers={"Retry-After": "0"}
            )
        return Scripted(content=table[text])

    scripted.responder = respond

    code, out, err, report = evaluate(scripted, tmp_path, capsys, "--only", "mysql-memory-2g-zh")

    assert code == 0, err
    assert report is not None
    assert report["metrics"]["pass_at_1"]["value"] == 1.0
    assert report["metrics"]["provider_errors"] == {}
    assert report["metrics"]["rate_limit_retries"] == 2
    assert turns_of(report, "mysql-memory-2g-zh")[0]["retries"] == 2
    assert "2 rate-limited turns tried again" in out


def test_a_rejected_key_on_the_first_call_stops_the_run(
    scripted: ScriptedModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted.responder = lambda body: Scripted(status=401, error={"message": "bad key"})

    code, out, err, report = evaluate(scripted, tmp_path, capsys, "--only", "smoke")

    assert code == 2
    assert "rejected the API key (401) on the first call" in err
    assert report is None and out == ""
    assert len(scripted.requests) == 1  # the first call, and no other


def test_the_command_line_end_to_end(model: ScriptedModel, tmp_path: Path) -> None:
    serve(model, answer_table(scripted_answers("correct.json")))
    out = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env.pop("OPENAI_API_KEY", None)
    env.pop("MONGODB_URI", None)

    done = subprocess.run(
        [sys.executable, "-m", "aiops.eval", "--base-url", model.base_url, "--model", "m",
         "--api-key", KEY, "--only", "smoke", "--out", str(out), "--concurrency", "8"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "AIops eval: model m at 127.0.0.1:" in done.stdout
    assert re.search(r"^Pass@1\s+100\.0 %\s+8/8 scenarios", done.stdout, re.MULTILINE)
    assert re.search(r"^\[8/8\] \S+ … pass$", done.stderr, re.MULTILINE)
    report_text = out.read_text(encoding="utf-8")
    report = json.loads(report_text)
    assert report["model"] == "m" and report["base_url_host"].startswith("127.0.0.1:")
    assert report["date"] and report["metrics"]["pass_at_1"]["value"] == 1.0
    assert len(report["scenarios"]) == 8
    for text in (done.stdout, done.stderr, report_text):
        assert KEY not in text
    assert all(h.get("authorization") == f"Bearer {KEY}" for h in model.headers)


# --- --instant-only: the instant path, with no model --------------------------------------------


def run_instant_only(tmp_path: Path, *extra: str) -> tuple[str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)  # no model anywhere
    out = tmp_path / "instant.json"
    done = subprocess.run(
        [sys.executable, "-m", "aiops.eval", "--instant-only", "--out", str(out), *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(out.read_text(encoding="utf-8"))


def test_instant_only_is_always_right_and_covers_most_edit_turns(tmp_path: Path) -> None:
    stdout, report = run_instant_only(tmp_path)
    sets = report["sets"]
    assert sets["all"]["answered"] > 0 and sets["all"]["precision"] == 1.0
    assert sets["edit"]["precision"] == 1.0 and sets["edit"]["coverage"] >= 0.6
    assert set(CATEGORY_TAGS) | {"all", "zh", "en"} >= set(sets)
    assert re.search(r"^edit\s+37\s+\d+\s+\d+\s+\d+\s+100%", stdout, re.MULTILINE)
    assert "WRONG" not in stdout
    # A fresh deploy is never answered instantly; a turn after a declined one is unreachable.
    turns = {(t["scenario"], t["index"]): t for t in report["turns"]}
    assert turns[("mysql-fresh-zh", 1)]["status"] == "declined"
    assert turns[("chain-mysql-zh", 2)]["status"] == "unreachable"
    assert turns[("mysql-memory-2g-zh", 1)]["changes"] == {"memory": "2G"}


def test_instant_only_counts_a_wrong_instant_answer(tmp_path: Path) -> None:
    scenarios = [json.loads(line) for line in SCENARIOS_PATH.read_text().splitlines()]
    chosen = [s for s in scenarios if s["id"] in ("mysql-memory-2g-zh", "api-port-zh")]
    chosen[0]["turns"][0]["expect"] = {"memory": {"eq": "4G"}}  # the user asked for 2G
    path = tmp_path / "scenarios.jsonl"
    path.write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in chosen) + "\n")
    stdout, report = run_instant_only(tmp_path, "--scenarios", str(path))
    assert report["sets"]["all"]["answered"] == 2 and report["sets"]["all"]["right"] == 1
    assert report["sets"]["all"]["precision"] == 0.5
    assert "WRONG mysql-memory-2g-zh turn 1" in stdout


def test_without_instant_only_the_model_flags_are_required(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--list"])
    assert stopped.value.code == 2
    assert "--base-url and --model are required" in capsys.readouterr().err
