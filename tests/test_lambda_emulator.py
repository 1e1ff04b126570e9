"""The Lambda package run the way Lambda runs it: the zip `osls package` makes (built for this
machine's CPU), under the AWS Lambda Runtime Interface Emulator with awslambdaric and Python
3.12 (scripts/lambda_emulator.py), answering the example HTTP API v2 events of
tests/data/events/ with the answers next to them, the scripted model behind /gen.

Missing tools (npx/osls, a Python 3.12, PyPI for the emulator's two downloads) make these tests
fail, not skip.
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app import FAKE_KEY, ROOT, free_port
from tests.fixtures.model_server import Scripted, ScriptedModel
from tests.fixtures.osls import one_packaging
from tests.test_lambda import EXAMPLES, REPLY, USAGE, load, matches

pytestmark = pytest.mark.slow  # builds or packages: left out of the edit loop (-m "not slow")

ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
INVOCATIONS = "/2015-03-31/functions/function/invocations"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`osls package --stage ci` for this machine's CPU (scripts/check_deploy.sh package)."""
    if not (ROOT / "node_modules" / ".bin" / "osls").exists():
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=ROOT)
    out = tmp_path_factory.mktemp("osls-package-native")
    arch = ARCH.get(platform.machine(), platform.machine())
    env = {**os.environ, "AIOPS_PACKAGE_DIR": str(out), "AIOPS_LAMBDA_ARCH": arch}
    with one_packaging():
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "check_deploy.sh"), "package"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"packaging failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return out


class Emulator:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.process, self.log = url, process, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(self.url + INVOCATIONS, data=json.dumps(event).encode())
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def emulator(
    package: Path, _model_server: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulator]:
    port, api_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    command = [
        sys.executable, str(ROOT / "scripts" / "lambda_emulator.py"), str(package),
        "--port", str(port), "--api-port", str(api_port),
        "--env", f"OPENAI_BASE_URL={_model_server.base_url}",
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT,
                                   start_new_session=True)  # fmt: skip
    emulator = Emulator(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 300  # the first run downloads the emulator and awslambdaric
    while not _listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            emulator.stop()
            pytest.fail(f"the emulator did not start:\n{emulator.output()[-3000:]}")
        time.sleep(0.2)
    yield emulator
    emulator.stop()


@pytest.fixture
def scripted(model: ScriptedModel) -> ScriptedModel:
    model.responder = lambda body: Scripted(content=REPLY, usage=USAGE)
    return model


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_packaged_function_gives_each_example_its_answer(
    emulator: Emulator, scripted: ScriptedModel, name: str
) -> None:
    expected = load(f"{name}.answer.json")
    answer = emulator.invoke(load(f"{name}.event.json"))
    assert answer["statusCode"] == expected["statusCode"], answer
    assert answer["headers"] == expected["headers"]
    assert answer["isBase64Encoded"] is False
    body = json.loads(answer["body"]) if answer["body"] else ""
    assert matches(expected["body"], body), answer["body"]
    assert FAKE_KEY not in json.dumps(answer)


def test_gen_reached_the_scripted_model_with_the_callers_key(
    emulator: Emulator, scripted: ScriptedModel
) -> None:
    answer = emulator.invoke(load("post_gen.event.json"))
    assert answer["statusCode"] == 200, answer
    assert json.loads(json.loads(answer["body"])["GenParamsStr"])["memory"] == "128M"
    assert len(scripted.requests) == 1
    assert scripted.headers[-1]["authorization"] == f"Bearer {FAKE_KEY}"


def test_the_preflight_and_healthz_answer_without_the_model(
    emulator: Emulator, scripted: ScriptedModel
) -> None:
    assert emulator.invoke(load("options_gen_preflight.event.json"))["statusCode"] == 204
    assert emulator.invoke(load("get_healthz.event.json"))["statusCode"] == 200
    assert scripted.requests == []


def test_the_function_logs_json_lines_only_and_never_the_key(emulator: Emulator) -> None:
    emulator.invoke(load("get_healthz.event.json"))
    # The emulator's own lines, as Lambda's in CloudWatch: START, END, REPORT, and the script's.
    runtime = re.compile(r"^(START|END|REPORT) RequestId: |^invoke: POST |^WARNING: ")
    lines = [line for line in emulator.output().splitlines() if line.strip()]
    ours = [line for line in lines if not runtime.match(line)]
    entries = [json.loads(line) for line in ours]
    assert any(e["logger"] == "aiops.start" and "AWS Lambda" in e["message"] for e in entries)
    assert any(e["logger"] == "aiops.request" for e in entries)
    assert FAKE_KEY not in emulator.output()
    assert any(line.startswith("REPORT RequestId: ") for line in lines)
