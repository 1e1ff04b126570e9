"""The start of the real server (functions-framework, gunicorn): one JSON line saying where it
listens, and a bad setting that stops it with the variable's name, no traceback (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app import ROOT, start_live_server

FF = str(Path(sys.executable).with_name("functions-framework"))


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AIOPS_")}
    clean.update(env)
    command = [FF, "--source", str(ROOT / "handler.py"), "--target", "gen", "--port", "1"]
    return subprocess.run(command, env=clean, capture_output=True, text=True, timeout=60)


def test_the_start_line_says_where_it_listens(model: Any, tmp_path: Path) -> None:
    server = start_live_server({"OPENAI_BASE_URL": model.base_url}, tmp_path / "log")
    try:
        lines = json_lines(server.output())
    finally:
        server.stop()
    [line] = [entry for entry in lines if entry["logger"] == "aiops.start"]
    assert line["severity"] == "INFO"
    assert server.url in line["message"]
    assert line["host"] == "127.0.0.1"
    assert line["port"] == int(server.url.rsplit(":", 1)[1])


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("AIOPS_LLM_TIMEOUT_S", "abc", "number"),
        ("AIOPS_LLM_TIMEOUT_S", "0", "greater than 0"),
        ("AIOPS_LOG_LEVEL", "LOUD", "DEBUG"),
        ("AIOPS_MEMORY_CHOICES", "lots", "512M"),
    ],
)
def test_a_bad_setting_stops_the_start_naming_the_variable(
    variable: str, value: str, says: str
) -> None:
    done = start({variable: value})
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stderr == ""
    [line] = json_lines(done.stdout)
    assert line["severity"] == "CRITICAL"
    assert variable in line["message"] and says in line["message"]
    assert "llm_timeout_s" not in line["message"]


def test_a_bad_connection_string_is_named_but_never_echoed() -> None:
    done = start({"AIOPS_HISTORY_TURNS": "many", "MONGODB_URI": "mongodb://u:s3cret@h/"})
    assert done.returncode == 2
    assert "s3cret" not in done.stdout + done.stderr
    [line] = json_lines(done.stdout)
    assert "AIOPS_HISTORY_TURNS" in line["message"]
    assert "many" not in line["message"]
