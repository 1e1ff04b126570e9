"""Settings the service does not know (README "Settings"): a misspelt `AIOPS_*` variable is
named at start with the setting it most likely means, instead of being ignored without a word;
the service still starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiops.settings import Settings, env_name, unknown_settings
from tests.fixtures.app import start_live_server


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


def test_the_real_start_warns_and_still_serves(model: Any, tmp_path: Path) -> None:
    env = {"OPENAI_BASE_URL": model.base_url, "AIOPS_MAX_INSTANCE": "5"}
    server = start_live_server(env, tmp_path / "log")  # it answers /healthz, or this raises
    try:
        lines = [json.loads(line) for line in server.output().splitlines() if line.strip()]
    finally:
        server.stop()
    warnings = [line for line in lines if line["severity"] == "WARNING"]
    named = [w for w in warnings if "AIOPS_MAX_INSTANCE " in w["message"]]
    assert len(named) == 1 and "did you mean AIOPS_MAX_INSTANCES?" in named[0]["message"]
    assert named[0]["logger"] == "aiops.start"
    assert "5" not in named[0]["message"].replace("AIOPS_", "")  # the value is never echoed


def readme_allowed() -> dict[str, str]:
    """The "allowed" column of README's settings table, by variable."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
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
