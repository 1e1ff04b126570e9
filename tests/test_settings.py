"""Settings the service does not know (README "Settings"): a misspelt `AIOPS_*` variable is
named at start with the setting it most likely means, instead of being ignored without a word;
the service still starts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aiops import routes
from aiops.settings import Settings, env_name, unknown_settings
from tests.fixtures.app import ROOT


def test_a_misspelt_setting_is_named_with_the_one_it_most_likely_means() -> None:
    [warning] = unknown_settings({"AIOPS_HISTROY_TURNS": "3", "AIOPS_MODEL": "gpt-4o"})
    assert warning.startswith("AIOPS_HISTROY_TURNS is not a setting")
    assert warning.endswith("did you mean AIOPS_HISTORY_TURNS?")


def test_a_name_like_no_setting_is_named_without_a_guess() -> None:
    [warning] = unknown_settings({"AIOPS_WHATEVER": "1"})
    assert "AIOPS_WHATEVER" in warning and "did you mean" not in warning


def test_every_setting_and_other_variables_pass_without_a_word() -> None:
    every = {env_name(name): "x" for name in Settings.model_fields}
    assert unknown_settings({**every, "PATH": "/bin", "aiops_model": "m"}) == []


def test_a_prefixed_alias_is_pointed_to_its_own_name() -> None:
    [warning] = unknown_settings({"AIOPS_MONGODB_URI": "mongodb://h/"})
    assert warning.endswith("did you mean MONGODB_URI?")
    assert "mongodb://" not in warning


def test_the_variables_of_the_repository_s_own_tools_are_no_typo() -> None:
    """Every `AIOPS_*` name the scripts, CI, deploy files, bench and test fixtures use is a
    setting or one of the tools' own variables (so a shell that has them starts quietly)."""
    places = [*ROOT.glob("scripts/*"), *ROOT.glob("bench/*.py"), *ROOT.glob("tests/fixtures/*")]
    places += [ROOT / ".ci" / "run", ROOT / "serverless.yml", ROOT / "Dockerfile"]
    places += [*ROOT.glob(".github/workflows/*"), *ROOT.glob("tests/test_*.py")]
    places.remove(Path(__file__))  # the misspelt examples above
    used = {n for p in places for n in re.findall(r"AIOPS_[A-Z0-9_]+", p.read_text())}
    assert {"AIOPS_MONGOECO_PYTHON", "AIOPS_LLM_TIMEOUT_S"} <= used
    assert unknown_settings(dict.fromkeys(used, "x")) == []


def test_the_start_warns_and_still_makes_the_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AIOPS_MAX_INSTANCE", "5")
    app = routes.start()
    app.close()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    [named] = [line for line in lines if "AIOPS_MAX_INSTANCE " in line["message"]]
    assert named["severity"] == "WARNING" and named["logger"] == "aiops.start"
    assert named["message"].endswith("did you mean AIOPS_MAX_INSTANCES?")


def readme_allowed() -> dict[str, str]:
    """The "allowed" column of README's settings table, by variable."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings", 1)[1].split("\n\n", 2)[1]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| `")]
    return {cells[0].strip("| `"): cells[2] for cells in rows}


def bounds_of(field: str) -> str:
    """A numeric setting's bounds as README writes them: `0–5`, or `> 0, ≤ 600`."""
    low = high = None
    strict = False
    for rule in Settings.model_fields[field].metadata:
        for name in ("ge", "gt"):
            if getattr(rule, name, None) is not None:
                low, strict = getattr(rule, name), name == "gt"
        if getattr(rule, "le", None) is not None:
            high = rule.le
    return f"> {low}, ≤ {high}" if strict else f"{low}–{high}"


def test_readme_gives_every_setting_and_its_bounds() -> None:
    allowed = readme_allowed()
    assert set(allowed) == {env_name(name) for name in Settings.model_fields}
    numeric = [
        name
        for name, info in Settings.model_fields.items()
        if info.annotation in (int, float, float | None)
    ]
    assert len(numeric) == 10
    for name in numeric:
        assert allowed[env_name(name)] == bounds_of(name), name
