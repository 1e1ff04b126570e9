"""Find or build the Python >= 3.13 environment that runs the mongoeco test server.

Our tests talk MongoDB wire protocol to `scripts/mongoeco_server.py`, which needs Python >= 3.13
and `mongoeco[wire]` (the `wire` extra brings pymongo's `bson`, without which the server drops
every connection). The project itself runs on 3.11, so mongoeco lives in a venv of its own:

    python3 scripts/ensure_mongoeco.py        # prints the interpreter to run the server with

In order: $AIOPS_MONGOECO_PYTHON if set (it must already have mongoeco); else
`.venv-mongoeco/bin/python` if it has the pinned mongoeco; else `.venv-mongoeco` is (re)built
from a Python >= 3.13 found as python3.13/python3.14/python3 on PATH or under pyenv's versions/.
Standard library only, so that any python3 can run it (and tests/fixtures/mongo.py imports it).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

MONGOECO_VERSION = "4.11.0"
REQUIREMENT = f"mongoeco[wire]=={MONGOECO_VERSION}"
MIN_PYTHON = (3, 13)
REPO = Path(__file__).resolve().parent.parent
DEFAULT_VENV = REPO / ".venv-mongoeco"
ENV_PYTHON = "AIOPS_MONGOECO_PYTHON"

_PROBE = """
import sys
from importlib.metadata import version
import bson, mongoeco.wire, mongoeco.engines.sqlite
print(version("mongoeco"))
"""


class MongoecoSetupError(RuntimeError):
    """No interpreter able to run the mongoeco server could be found or built."""


def run_quietly(command: list[str], timeout: float, log_file: Path | None = None) -> str:
    """Run `command`; its output goes to `log_file` if given. Returns stdout when no log file."""
    if log_file is None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)
        return done.stdout
    with log_file.open("a") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        subprocess.run(command, stdout=log, stderr=log, check=True, timeout=timeout)
    return ""


def python_version(python: str) -> tuple[int, int] | None:
    """The (major, minor) version of an interpreter, or None when it does not run."""
    try:
        out = run_quietly(
            [python, "-c", "import sys; print(*sys.version_info[:2])"], timeout=30
        ).split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None  # e.g. a pyenv shim for a version that is not selected


def mongoeco_version(python: str) -> str | None:
    """The mongoeco version an interpreter can import (with the wire extra), or None."""
    try:
        return run_quietly([python, "-c", _PROBE], timeout=60).strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def pyenv_root() -> Path:
    """Where pyenv keeps its versions (it need not be installed)."""
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            return Path(run_quietly([pyenv, "root"], timeout=30).strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return Path.home() / ".pyenv"


def candidate_pythons() -> list[str]:
    """Interpreters that may be Python >= 3.13, most specific first."""
    on_path = [shutil.which(name) for name in ("python3.13", "python3.14", "python3")]
    versions = sorted(glob.glob(str(pyenv_root() / "versions" / "3.1[3-9]*" / "bin" / "python")))
    return [path for path in [*on_path, *versions] if path]


def base_python() -> str:
    """A working Python >= 3.13 to build the venv from."""
    tried = candidate_pythons()
    for python in tried:
        version = python_version(python)
        if version is not None and version >= MIN_PYTHON:
            return python
    raise MongoecoSetupError(
        "mongoeco (the MongoDB wire server of the tests) needs Python >= 3.13, and none was "
        f"found (tried: {', '.join(tried) or 'nothing on PATH or under pyenv'}). Install one "
        "(e.g. `pyenv install 3.13`), set AIOPS_MONGOECO_PYTHON to a Python >= 3.13 that has "
        f"`{REQUIREMENT}`, or set MONGODB_TEST_URI to a real MongoDB."
    )


def build_venv(venv: Path, log_file: Path | None) -> str:
    """(Re)create `venv` from a Python >= 3.13 and install the pinned mongoeco in it."""
    python = base_python()
    venv_python = venv / "bin" / "python"
    try:
        if (python_version(str(venv_python)) or (0, 0)) < MIN_PYTHON:
            run_quietly([python, "-m", "venv", "--clear", str(venv)], 300, log_file)
        pip = [str(venv_python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        run_quietly([*pip, REQUIREMENT], 900, log_file)
    except (OSError, subprocess.SubprocessError) as error:
        detail = log_file or (getattr(error, "stderr", None) or "")[-2000:]
        raise MongoecoSetupError(
            f"could not build {venv} with {python}: {error}; see {detail}"
        ) from None
    if mongoeco_version(str(venv_python)) != MONGOECO_VERSION:
        raise MongoecoSetupError(f"{venv_python} still cannot import {REQUIREMENT}")
    return str(venv_python)


def ensure_mongoeco_python(venv: Path = DEFAULT_VENV, log_file: Path | None = None) -> str:
    """The path of a Python >= 3.13 that can run scripts/mongoeco_server.py."""
    chosen = os.environ.get(ENV_PYTHON)
    if chosen:
        if mongoeco_version(chosen) is None:
            raise MongoecoSetupError(
                f"{ENV_PYTHON}={chosen} cannot import mongoeco with its wire extra; "
                f"run `{chosen} -m pip install '{REQUIREMENT}'`"
            )
        return chosen
    venv_python = venv / "bin" / "python"
    if venv_python.exists() and mongoeco_version(str(venv_python)) == MONGOECO_VERSION:
        return str(venv_python)
    return build_venv(venv, log_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a Python that runs the mongoeco server.")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="venv to use or build")
    args = parser.parse_args(argv)
    try:
        print(ensure_mongoeco_python(args.venv))
    except MongoecoSetupError as error:
        print(f"ensure_mongoeco: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
