"""Run the Lambda package the way AWS Lambda runs it, on this machine: the zip `osls package`
made, unpacked as Lambda's /var/task, started by the AWS Lambda Runtime Interface Emulator with
`awslambdaric` (the runtime client of Lambda's Python images) under Python 3.12, with the
function's environment from the packaged CloudFormation template.

    AIOPS_LAMBDA_ARCH=x86_64 AIOPS_PACKAGE_DIR=/tmp/pkg bash scripts/check_deploy.sh package
    python scripts/lambda_emulator.py /tmp/pkg --port 9000
    curl -s localhost:9000/2015-03-31/functions/function/invocations \\
      -d @tests/data/events/get_healthz.event.json

The emulator binary comes from the aws-sam-cli wheel on PyPI (one `pip download --no-deps`, not
an install of aws-sam-cli), awslambdaric from PyPI; both are kept in $AIOPS_EMULATOR_CACHE
(default ~/.cache/aiops-lambda-emulator). Without Docker, the package must be built for this
machine's CPU (AIOPS_LAMBDA_ARCH=x86_64 on an x86_64 machine).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SAM_CLI = "aws-sam-cli==1.170.0"
AWSLAMBDARIC = "awslambdaric==4.2.2"
ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "aiops-lambda-emulator"
    path = Path(os.environ.get("AIOPS_EMULATOR_CACHE") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_python312() -> str:
    """AIOPS_LAMBDA_PYTHON, python3.12 on PATH, or pyenv's 3.12 (as scripts/check_deploy.sh)."""
    candidates = [os.environ.get("AIOPS_LAMBDA_PYTHON"), shutil.which("python3.12")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(str(p) for p in Path(root).glob("versions/3.12*/bin/python3.12"))
    for candidate in filter(None, candidates):
        check = [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"]
        if subprocess.run(check, capture_output=True).returncode == 0:
            return candidate
    sys.exit("no Python 3.12 found: install it, or set AIOPS_LAMBDA_PYTHON=/path/to/python3.12")


def emulator_binary(arch: str) -> Path:
    """The emulator for this CPU, taken out of the aws-sam-cli wheel once."""
    binary = cache_dir() / f"aws-lambda-rie-{arch}"
    if binary.exists():
        return binary
    with tempfile.TemporaryDirectory() as download:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
        subprocess.run([*pip, "--only-binary=:all:", "-d", download, SAM_CLI], check=True)
        [wheel] = Path(download).glob("aws_sam_cli-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(f"samcli/local/rapid/aws-lambda-rie-{arch}")
    partial = binary.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.rename(binary)
    return binary


def runtime_client(python: str) -> Path:
    """awslambdaric (and its compiled part) for Python 3.12, installed once."""
    site = cache_dir() / "awslambdaric-py312"
    if not (site / "awslambdaric").is_dir():
        pip = [python, "-m", "pip", "install", "--quiet", "--only-binary=:all:"]
        subprocess.run([*pip, "--target", str(site), AWSLAMBDARIC], check=True)
    return site


def package_facts(package: Path) -> tuple[str, dict[str, str], str]:
    """(architecture, environment, handler) of the packaged function."""
    template = json.loads((package / "cloudformation-template-update-stack.json").read_text())
    [function] = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    env = {k: str(v) for k, v in function["Environment"]["Variables"].items()}
    return function["Architectures"][0], env, function["Handler"]


def command(
    package: Path, task: Path, port: int, api_port: int
) -> tuple[list[str], dict[str, str]]:
    """The emulator's command line and environment, with the zip unpacked into `task`."""
    arch, function_env, handler = package_facts(package)
    machine = ARCH.get(platform.machine(), platform.machine())
    if arch != machine:
        sys.exit(
            f"the package is built for {arch}, this machine is {machine}: package it with "
            f"AIOPS_LAMBDA_ARCH={machine} bash scripts/check_deploy.sh package"
        )
    with zipfile.ZipFile(package / "aiops.zip") as archive:
        archive.extractall(task)
    python = find_python312()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIOPS_", "PYTHON"))}
    env.pop("MONGODB_URI", None)
    env.update(function_env)
    env.update(
        {
            "PYTHONPATH": f"{task}:{runtime_client(python)}",
            "LAMBDA_TASK_ROOT": str(task),
            "AWS_LAMBDA_FUNCTION_NAME": "aiops-ci-gen",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "LOG_LEVEL": "error",
        }
    )
    argv = [
        str(emulator_binary(machine)),
        "--runtime-interface-emulator-address",
        f"127.0.0.1:{port}",
        "--runtime-api-address",
        f"127.0.0.1:{api_port}",
        python,
        "-m",
        "awslambdaric",
        handler,
    ]
    return argv, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", type=Path, help="the folder of `osls package --package`")
    parser.add_argument("--port", type=int, default=9000, help="invocations port (9000)")
    parser.add_argument("--api-port", type=int, default=9001, help="Runtime API port (9001)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    # A stop (SIGTERM) unwinds like Ctrl-C, so the unpacked task folder is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with tempfile.TemporaryDirectory(prefix="aiops-task-") as task:
        argv, env = command(args.package.resolve(), Path(task), args.port, args.api_port)
        env.update(dict(item.split("=", 1) for item in args.env))
        print(
            f"invoke: POST http://127.0.0.1:{args.port}/2015-03-31/functions/function/invocations"
        )
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            subprocess.run(argv, env=env, cwd=task, check=False)


if __name__ == "__main__":
    main()
