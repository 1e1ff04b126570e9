"""The dependencies run one way (README "Layout"): the import-linter contracts in pyproject.toml
hold, and every module of the package has its place in the layers."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_the_import_contracts_hold() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in run.stdout


def test_every_module_has_a_layer() -> None:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    named = {m.strip() for layer in layers["layers"] for m in str(layer).split("|")}
    modules = {
        f"aiops.{path.stem if path.is_file() else path.name}"
        for path in (ROOT / "aiops").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }
    assert modules - named == set(), "give each new module its layer in pyproject.toml"
    assert named - modules == set()


def test_the_lambda_entry_imports_no_web_framework() -> None:
    code = (
        "import sys, aiops.aws\n"
        "found = sorted({m.split('.')[0] for m in sys.modules} & {'functions_framework', "
        "'flask', 'werkzeug', 'gunicorn', 'click', 'uvicorn', 'starlette', 'watchdog'})\n"
        "print(found)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"
