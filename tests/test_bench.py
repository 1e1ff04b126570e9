"""The performance bench (bench/run.py) runs end to end in its tiny configuration (`--smoke`: a
handful of requests per phase, see bench/README.md) and writes its report with every section.
No timing is asserted: the figures depend on the machine; this only keeps the bench working as
the service changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_bench_runs_end_to_end_and_writes_its_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-4000:]

    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["errors"] == {}
    assert report["machine"]["nproc"] >= 1

    overhead = report["overhead"]["summary"]
    assert overhead["aiops"]["requests"] > 0 and overhead["floor"]["requests"] > 0

    trips = report["inprocess"]["round_trips"]
    assert trips["aiops"]["store_commands_per_request"], "no store command was counted"
    assert trips["model_requests_logged"] > 0

    assert report["cold_start"]["first_answer_ms"]["aiops"]["runs"]
    assert report["cold_start"]["first_answer_ms"]["bare"]["runs"]

    tokens = report["tokens"]
    assert tokens["examples"]["simple_deploy"]["prompt_tokens"] > 0
    assert len(tokens["conversation"]["turns"]) == 10
    assert tokens["static_prefix"]["requests_compared"] > 0

    level = report["throughput"]["levels"][0]
    assert level["aiops"]["requests"] > 0 and level["floor"]["requests"] > 0
    assert report["throughput"]["memory"]["aiops"]["after_requests"]["peak_rss_kib"] > 0

    instant = report["instant"]
    assert instant["summary"]["instant"]["requests"] > 0
    assert instant["summary"]["model"]["requests"] > 0
    assert instant["model_calls_by_instant_requests"] == 0
    assert instant["instant_over_model_p50"] > 0
    assert instant["in_process"]["instant"]["p50_ms"] > 0

    summary = (tmp_path / "latest.md").read_text()
    assert "## 1. Overhead" in summary and "## 5. Throughput" in summary
    assert "## 6. Instant edits" in summary
    for section in ("## 2. Round trips", "## 3. Cold start", "## 4. Tokens", "## Profile"):
        assert section in summary, section
    assert report["inprocess"]["profile"]["cpu"]["requests"] > 0
    assert "## 1. Overhead" in done.stdout
