#!/usr/bin/env bash
# Offline checks of the deployment files: serverless.yml packages, the Lambda zip holds what it
# must (and nothing it must not), the packaged function answers /healthz, and the GitHub workflows
# pass zizmor and the workflow JSON schema. No AWS account, no Docker, no network but PyPI.
#
# Needs: requirements-dev.txt installed (zizmor, check-jsonschema), `npm ci` run, and a Python
# 3.12 to build the Lambda dependencies (python3.12 on PATH, pyenv's 3.12, or AIOPS_LAMBDA_PYTHON).
#
# usage: scripts/check_deploy.sh [all|package|artifact|workflows]
#   package    npx osls package --stage ci, into $AIOPS_PACKAGE_DIR
#   artifact   check the zip and template in $AIOPS_PACKAGE_DIR and run the packaged handler
#   workflows  zizmor --offline and check-jsonschema on .github/workflows
#   all        the three in turn (default)
# AIOPS_PACKAGE_DIR: where the package goes (default: a new temporary folder, removed at the end).
# AIOPS_LAMBDA_ARCH: package for this architecture instead of serverless.yml's arm64 (x86_64 for
# the local Lambda emulator, scripts/lambda_emulator.py, on an x86_64 machine).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

step="${1:-all}"
case "$step" in
  all | package | artifact | workflows) ;;
  *)
    echo "usage: $0 [all|package|artifact|workflows]" >&2
    exit 2
    ;;
esac

# The project's tools: AIOPS_PYTHON's environment (the tests pass their own interpreter), else an
# active virtual environment, else ./.venv, else whatever is on PATH. zizmor and
# check-jsonschema are taken from the same environment's bin folder first.
if [ -n "${AIOPS_PYTHON:-}" ]; then
  export PATH="$(dirname "$AIOPS_PYTHON"):$PATH"
elif [ -z "${VIRTUAL_ENV:-}" ] && [ -x "$root/.venv/bin/python" ]; then
  export PATH="$root/.venv/bin:$PATH"
fi
python="${AIOPS_PYTHON:-$(command -v python || command -v python3)}"

if [ -z "${AIOPS_PACKAGE_DIR:-}" ]; then
  if [ "$step" = artifact ]; then
    echo "artifact: set AIOPS_PACKAGE_DIR to the folder of a previous 'package' run" >&2
    exit 2
  fi
  AIOPS_PACKAGE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/aiops-package.XXXXXX")"
  trap 'rm -rf "$AIOPS_PACKAGE_DIR"' EXIT
fi
export AIOPS_PACKAGE_DIR

say() { printf '\n== %s\n' "$*"; }

# A Python 3.12 for pip: it byte-compiles the dependencies for Lambda's python3.12 and evaluates
# their environment markers as Lambda's interpreter would.
find_lambda_python() {
  if [ -n "${AIOPS_LAMBDA_PYTHON:-}" ]; then
    echo "$AIOPS_LAMBDA_PYTHON"
    return
  fi
  if python3.12 -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
    command -v python3.12
    return
  fi
  if command -v pyenv >/dev/null 2>&1; then
    local candidate
    for candidate in "$(pyenv root)"/versions/3.12*/bin/python3.12; do
      if [ -x "$candidate" ]; then
        echo "$candidate"
        return
      fi
    done
  fi
  echo "no Python 3.12 found (python3.12, pyenv, or AIOPS_LAMBDA_PYTHON)" >&2
  return 1
}

run_package() {
  say "osls package --stage ci -> $AIOPS_PACKAGE_DIR"
  if ! [ -x node_modules/.bin/osls ]; then
    echo "node_modules/.bin/osls is missing: run 'npm ci' first" >&2
    return 1
  fi
  AIOPS_LAMBDA_PYTHON="$(find_lambda_python)"
  export AIOPS_LAMBDA_PYTHON
  echo "Lambda dependencies built with $AIOPS_LAMBDA_PYTHON"
  # No AWS credentials are needed to package; make sure none are picked up by accident.
  env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off \
    npx --no-install osls package --stage ci --package "$AIOPS_PACKAGE_DIR" \
    ${AIOPS_LAMBDA_ARCH:+"--param=architecture=$AIOPS_LAMBDA_ARCH"}
  test -f "$AIOPS_PACKAGE_DIR/aiops.zip"
}

run_artifact() {
  say "the Lambda zip and template in $AIOPS_PACKAGE_DIR"
  "$python" - "$AIOPS_PACKAGE_DIR" <<'PY'
"""Check the packaged zip and CloudFormation template; run the packaged handler on /healthz."""

import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

out = Path(sys.argv[1])
problems: list[str] = []
with zipfile.ZipFile(out / "aiops.zip") as archive:
    names = set(archive.namelist())

    # The function: every file of aiops/ (code and data), no byte-code, and not the evaluation
    # suite aiops/eval/ (a developer tool). handler.py (functions-framework) stays out.
    source = {
        p.as_posix()
        for p in Path("aiops").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        and p.parts[1] != "eval"
    }
    problems += [f"missing from the zip: {name}" for name in sorted(source - names)]
    problems += [f"should not be in the zip: {n}" for n in sorted(names) if n.startswith("aiops/eval/")]

    # Nothing of the repository but that.
    for name in sorted(names):
        top = name.split("/")[0]
        if top in {"tests", "bench", "eval", "docs", "scripts", ".github", ".ci", "node_modules",
                   ".git", ".serverless", "build"} or top.startswith((".venv", ".env")):
            problems.append(f"should not be in the zip: {name}")
    for extra in ("serverless.yml", "package.json", "Dockerfile", "pyproject.toml", "handler.py"):
        if extra in names:
            problems.append(f"should not be in the zip: {extra}")

    # Every requirement, installed for Lambda's platform.
    installed = {
        re.sub(r"[-_.]+", "-", n.split("/")[0].removesuffix(".dist-info").rsplit("-", 1)[0]).lower()
        for n in names
        if n.split("/")[0].endswith(".dist-info")
    }
    for line in Path("requirements-lambda.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        wanted = re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0]).lower()
        if wanted not in installed:
            problems.append(f"requirement not packaged: {wanted}")
    # No web server or framework: the Lambda entry (aiops/aws.py) needs none.
    for framework in sorted(installed & {"functions-framework", "flask", "werkzeug", "gunicorn",
                                         "uvicorn", "starlette", "watchdog", "click"}):
        problems.append(f"should not be in the zip: {framework}")

    template = json.loads((out / "cloudformation-template-update-stack.json").read_text())
    function = template["Resources"]["GenLambdaFunction"]["Properties"]
    machine = {"arm64": 0xB7, "x86_64": 0x3E}[function["Architectures"][0]]
    tag = "cpython-" + function["Runtime"].removeprefix("python").replace(".", "")
    extensions = [n for n in names if n.endswith(".so")]
    if not extensions:
        problems.append("no compiled extension in the zip (pydantic_core should be there)")
    for name in extensions:
        header = archive.read(name)[:20]
        if header[:4] != b"\x7fELF" or int.from_bytes(header[18:20], "little") != machine:
            problems.append(f"not built for {function['Architectures'][0]}: {name}")
        if "cpython-" in name and tag not in name:
            problems.append(f"not built for {function['Runtime']}: {name}")

    # The packaged function itself, with the environment it is deployed with. Its compiled
    # dependencies are for Lambda's CPU, so they come from this machine's environment instead.
    with tempfile.TemporaryDirectory() as unpacked:
        for name in names:
            if name.startswith("aiops/"):
                archive.extract(name, unpacked)
        event = {
            "version": "2.0",
            "rawPath": "/healthz",
            "headers": {},
            "requestContext": {"requestId": "check", "http": {"method": "GET", "path": "/healthz"}},
            "isBase64Encoded": False,
        }
        script = (
            "import json, sys, aiops, aiops.aws\n"
            "here = sys.argv[1]\n"
            "assert aiops.aws.__file__.startswith(here) and aiops.__file__.startswith(here)\n"
            "print(json.dumps(aiops.aws.lambda_handler(json.loads(sys.argv[2]), None)))\n"
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(function["Environment"]["Variables"])
        run = subprocess.run(
            [sys.executable, "-c", script, os.path.realpath(unpacked), json.dumps(event)],
            cwd=unpacked, env=env, capture_output=True, text=True, timeout=60,
        )
        if run.returncode != 0:
            problems.append(f"the packaged handler failed:\n{run.stderr[-3000:]}")
        else:
            answer = json.loads(run.stdout.strip().splitlines()[-1])
            if answer.get("statusCode") != 200 or json.loads(answer["body"]) != {"status": "ok"}:
                problems.append(f"GET /healthz through lambda_handler answered {answer}")

size = (out / "aiops.zip").stat().st_size
print(f"aiops.zip: {len(names)} files, {size / 1e6:.1f} MB")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
print("zip, template and packaged handler: ok")
PY
}

run_workflows() {
  say "zizmor --offline .github/workflows"
  zizmor --offline .github/workflows
  say "check-jsonschema (GitHub workflow schema)"
  check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
}

case "$step" in
  package) run_package ;;
  artifact) run_artifact ;;
  workflows) run_workflows ;;
  all)
    run_package
    run_artifact
    run_workflows
    say "deployment checks passed"
    ;;
esac
