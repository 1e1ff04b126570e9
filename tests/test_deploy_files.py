"""The deployment files: serverless.yml, the Lambda package, the GitHub workflows, the Dockerfile.

The slow part, `osls package`, runs once for the module (through scripts/check_deploy.sh, as a
developer or CI would). Missing tools (npx, osls, zizmor, check-jsonschema, a Python 3.12) make
these tests fail, not skip. The node tools (osls and its plugin, pinned in package-lock.json)
are installed with `npm ci` on first use, so `python -m pytest` alone is enough.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.fixtures.osls import one_packaging

pytestmark = pytest.mark.slow  # builds or packages: left out of the edit loop (-m "not slow")

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "scripts" / "check_deploy.sh"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
ENV_KEYS = {
    "MONGODB_URI",
    "AIOPS_MODEL",
    "AIOPS_ALLOWED_MODELS",
    "AIOPS_LLM_TIMEOUT_S",
    "AIOPS_CORS_ORIGINS",
    "AIOPS_HISTORY_TURNS",
    "AIOPS_HISTORY_TTL_DAYS",
    "OPENAI_BASE_URL",
}
HTTP_API_LIMIT_S = 30
PACKAGED_DEPENDENCIES = ("openai", "pymongo", "pydantic", "pydantic_core", "json_repair", "httpx2")
# The Lambda entry (aiops/aws.py) needs no web server or framework, so the zip ships none.
NOT_PACKAGED = ("functions_framework", "flask", "werkzeug", "gunicorn", "uvicorn", "starlette")
NOT_PACKAGED += ("watchdog", "click")
# scripts/check_deploy.sh runs with this interpreter's environment (its python, zizmor,
# check-jsonschema), not whatever is first on PATH.
CHECK_ENV = {**os.environ, "AIOPS_PYTHON": sys.executable}
LEFT_OUT = ("tests", "bench", "eval", "docs", "scripts", ".github", "node_modules", ".git")


def _run(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    """Run a command in the repository; fail the test with its output if it fails."""
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} is not installed; see the docstring of this module")
    done = subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done.stdout


@pytest.fixture(scope="module", autouse=True)
def _node_tools() -> None:
    """`npm ci` once, when osls is not installed yet (a fresh clone)."""
    if not (ROOT / "node_modules" / ".bin" / "osls").exists():
        _run("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("osls-package")
    with one_packaging():
        _run("bash", str(CHECK), "package", env={**CHECK_ENV, "AIOPS_PACKAGE_DIR": str(out)})
    return out


@pytest.fixture(scope="module")
def zip_names(package_dir: Path) -> set[str]:
    with zipfile.ZipFile(package_dir / "aiops.zip") as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def template(package_dir: Path) -> dict[str, Any]:
    return json.loads((package_dir / "cloudformation-template-update-stack.json").read_text())


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="module")
def function(resources: dict[str, Any]) -> dict[str, Any]:
    [props] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    return props


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    """serverless.yml as osls resolves it for the offline `ci` stage."""
    out = _run("npx", "--no-install", "osls", "print", "--stage", "ci", "--format", "json")
    return json.loads(out[out.index("{") :])


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    assert WORKFLOWS, "no workflow in .github/workflows"
    return {path.name: _yaml(path) for path in WORKFLOWS}


@pytest.fixture(scope="module")
def ci(workflows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return workflows["ci.yml"]


# --- the checks of scripts/check_deploy.sh, each as a subprocess ---------------------------------


def test_osls_package_builds_the_zip(package_dir: Path) -> None:
    assert (package_dir / "aiops.zip").stat().st_size > 1_000_000


def test_packaged_zip_passes_the_artifact_check(package_dir: Path) -> None:
    """Every requirement built for Lambda's CPU, and the packaged handler answers /healthz."""
    _run("bash", str(CHECK), "artifact", env={**CHECK_ENV, "AIOPS_PACKAGE_DIR": str(package_dir)})


def test_workflows_pass_zizmor_and_the_workflow_schema() -> None:
    _run("bash", str(CHECK), "workflows", env=CHECK_ENV)


# --- the Lambda package -----------------------------------------------------------------------


def test_zip_has_the_function_and_its_data(zip_names: set[str]) -> None:
    assert "aiops/aws.py" in zip_names
    assert "aiops/__init__.py" in zip_names
    assert {"examples/index.html", "examples/aiops-client.js"} <= zip_names  # GET /
    shipped = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "aiops").rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.suffix != ".pyc"
        and not p.relative_to(ROOT / "aiops").as_posix().startswith("eval/")
    }
    assert shipped <= zip_names, shipped - zip_names
    for dependency in PACKAGED_DEPENDENCIES:
        assert any(n.startswith(dependency + "/") for n in zip_names), dependency


def test_zip_has_no_web_server_or_framework(zip_names: set[str]) -> None:
    tops = {name.split("/")[0].lower() for name in zip_names}
    for package in NOT_PACKAGED:
        assert package not in tops, package
        assert not any(t.startswith(package + "-") and t.endswith(".dist-info") for t in tops)
    assert "handler.py" not in zip_names, "the functions-framework edge is not the Lambda's"


def test_zip_leaves_the_rest_of_the_repository_out(zip_names: set[str]) -> None:
    tops = {name.split("/")[0] for name in zip_names}
    assert not set(LEFT_OUT) & tops
    assert not any(n.startswith("aiops/eval/") for n in zip_names), "a developer tool"
    assert not any(t.startswith(".venv") for t in tops)
    assert not {"serverless.yml", "package.json", "Dockerfile", "pyproject.toml"} & zip_names
    assert not any(n.endswith(".pyc") and n.startswith(("aiops/", "handler")) for n in zip_names)


# --- serverless.yml -------------------------------------------------------------------------


def test_runtime_architecture_memory_and_timeouts(function: dict[str, Any]) -> None:
    assert function["Handler"] == "aiops.aws.lambda_handler"
    assert function["Runtime"] in {"python3.12", "python3.13"}
    assert function["Architectures"] in (["arm64"], ["x86_64"])
    assert 256 <= function["MemorySize"] <= 2048
    # The function must stop before API Gateway's hard limit, and one model call before it.
    assert function["Timeout"] < HTTP_API_LIMIT_S
    llm_timeout = float(function["Environment"]["Variables"]["AIOPS_LLM_TIMEOUT_S"])
    assert 0 < llm_timeout <= function["Timeout"] - 3


def test_environment_has_every_setting(function: dict[str, Any], config: dict[str, Any]) -> None:
    assert set(function["Environment"]["Variables"]) >= ENV_KEYS
    assert set(config["provider"]["environment"]) >= ENV_KEYS
    assert all(isinstance(v, str) for v in function["Environment"]["Variables"].values())


def test_http_api_routes(resources: dict[str, Any]) -> None:
    routes = {
        r["Properties"]["RouteKey"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert routes == {"POST /gen", "GET /healthz", "GET /", "GET /aiops-client.js"}


def test_cors_is_answered_by_the_http_api(resources: dict[str, Any]) -> None:
    [api] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    cors = api["CorsConfiguration"]
    assert set(cors["AllowMethods"]) == {"POST", "OPTIONS"}
    assert {"Content-Type", "Authorization", "X-Request-Id"} <= set(cors["AllowHeaders"])
    assert cors["MaxAge"] > 0
    # One comma-separated param feeds both API Gateway and AIOPS_CORS_ORIGINS.
    assert cors["AllowOrigins"] == {"Fn::Split": [",", "*"]}


def test_the_gateway_exposes_the_headers_the_function_exposes(resources: dict[str, Any]) -> None:
    """API Gateway drops the function's CORS headers and sends its own: a page reads
    X-Request-Id and Retry-After only if the packaged stack exposes them (issue 15, item 1)."""
    from aiops.routes import EXPOSED_HEADERS

    [api] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    cors = api["CorsConfiguration"]
    assert set(cors) >= {"AllowOrigins", "AllowMethods", "AllowHeaders", "ExposeHeaders"}
    exposed = {h.strip().lower() for h in EXPOSED_HEADERS.split(",")}
    assert {h.lower() for h in cors["ExposeHeaders"]} == exposed


def test_cors_origins_param_reaches_gateway_and_function() -> None:
    out = _run(
        "npx", "--no-install", "osls", "print", "--stage", "ci", "--format", "json",
        "--param=corsOrigins=https://a.example,https://b.example",
    )  # fmt: skip
    printed = json.loads(out[out.index("{") :])
    origins = "https://a.example,https://b.example"
    assert printed["provider"]["environment"]["AIOPS_CORS_ORIGINS"] == origins
    cors = printed["resources"]["extensions"]["HttpApi"]["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == {"Fn::Split": [",", origins]}


def test_mongodb_uri_is_a_param_and_comes_from_ssm_in_prod() -> None:
    raw = _yaml(ROOT / "serverless.yml")
    assert raw["provider"]["environment"]["MONGODB_URI"] == "${param:mongodbUri}"
    assert raw["params"]["prod"]["mongodbUri"].startswith("${ssm:/")
    assert "ssm:" not in json.dumps(raw["params"]["default"])


def test_dependencies_are_built_for_lambda_without_docker(config: dict[str, Any]) -> None:
    assert "serverless-python-requirements" in config["plugins"]
    options = config["custom"]["pythonRequirements"]
    assert options["dockerizePip"] is False
    args = " ".join(options["pipCmdExtraArgs"])
    arch = {"arm64": "aarch64", "x86_64": "x86_64"}[config["provider"]["architecture"]]
    assert f"--platform manylinux2014_{arch}" in args
    assert "--only-binary=:all:" in args
    assert "--python-version " + config["provider"]["runtime"].removeprefix("python") in args


def test_osls_and_plugin_are_pinned() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = package["devDependencies"]
    assert {"osls", "serverless-python-requirements"} <= set(pinned)
    for name, version in pinned.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


# --- GitHub workflows -------------------------------------------------------------------------

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)


def _jobs_and_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in workflow["jobs"].items() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit(path: Path) -> None:
    found = USES.findall(path.read_text())
    assert found
    for action, rest in found:
        if action.startswith("./"):
            continue
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s*#\s*v\d+\.\d+\.\d+\s*", rest), f"{action}: add '# vX.Y.Z'"


def test_workflow_triggers(ci: dict[str, Any]) -> None:
    assert {"push", "pull_request"} <= set(ci["on"])


def test_id_token_only_on_the_deploy_job(workflows: dict[str, dict[str, Any]]) -> None:
    for workflow in workflows.values():
        top = workflow.get("permissions")
        assert top in ({}, "read-all", {"contents": "read"}), top
        for name, job in workflow["jobs"].items():
            permissions = job.get("permissions", {})
            assert isinstance(permissions, dict), f"{name}: list permissions per job"
            if name == "deploy":
                assert permissions == {"contents": "read", "id-token": "write"}
            else:
                assert "id-token" not in permissions, name
                assert set(permissions.values()) <= {"read", "none"}, name


def test_deploy_needs_test_and_runs_only_on_push_to_main(ci: dict[str, Any]) -> None:
    deploy = ci["jobs"]["deploy"]
    needs = deploy["needs"]
    assert "test" in ([needs] if isinstance(needs, str) else needs)
    condition = re.sub(r"\s+", " ", deploy["if"])
    assert "github.event_name == 'push'" in condition
    assert "github.ref == 'refs/heads/main'" in condition
    assert " || " not in condition
    assert deploy["concurrency"]["cancel-in-progress"] is False
    steps = " ".join(step.get("run", "") for step in deploy["steps"])
    assert "npm ci" in steps
    assert "osls deploy" in steps
    assert "--stage prod" in steps
    [credentials] = [s for s in deploy["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert "role-to-assume" in credentials["with"]
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(credentials["with"])


def test_test_job_runs_ci_with_python_312_and_313(ci: dict[str, Any]) -> None:
    test = ci["jobs"]["test"]
    runs = [step.get("run", "") for step in test["steps"]]
    assert "bash .ci/run" in runs
    [python] = [s for s in test["steps"] if "actions/setup-python" in s.get("uses", "")]
    versions = str(python["with"]["python-version"]).split()
    assert versions[-1] == "3.12", "3.12 must be listed last so that it is the default python"
    assert "3.13" in versions
    assert any("actions/setup-node" in s.get("uses", "") for s in test["steps"])


def test_checkout_never_persists_credentials(workflows: dict[str, dict[str, Any]]) -> None:
    for workflow in workflows.values():
        for name, step in _jobs_and_steps(workflow):
            if "actions/checkout" in step.get("uses", ""):
                assert step.get("with", {}).get("persist-credentials") is False, name


def test_every_job_has_a_timeout(workflows: dict[str, dict[str, Any]]) -> None:
    for workflow in workflows.values():
        for name, job in workflow["jobs"].items():
            assert 0 < job.get("timeout-minutes", 0) <= 60, name


def test_no_expression_is_expanded_inside_a_script(workflows: dict[str, dict[str, Any]]) -> None:
    for workflow in workflows.values():
        for name, step in _jobs_and_steps(workflow):
            assert "${{" not in step.get("run", ""), f"{name}: pass it through env instead"


# --- Dockerfile -------------------------------------------------------------------------------


def _instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return [(i.split(None, 1)[0].upper(), i.split(None, 1)[1]) for i in joined]


@pytest.fixture(scope="module")
def final_stage() -> list[tuple[str, str]]:
    instructions = _instructions(ROOT / "Dockerfile")
    # ARGs with defaults, enough to resolve FROM ${PYTHON_IMAGE}.
    args = dict(a.split("=", 1) for kind, a in instructions if kind == "ARG" and "=" in a)
    starts = [i for i, (kind, _) in enumerate(instructions) if kind == "FROM"]
    assert starts
    stage = instructions[starts[-1] :]
    image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage[0][1].split()[0])
    assert image.startswith("python:3.12-slim"), image
    return stage


def test_dockerfile_runs_as_a_non_root_user(final_stage: list[tuple[str, str]]) -> None:
    users = [a.strip() for kind, a in final_stage if kind == "USER"]
    assert users, "no USER in the final stage"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_listens_on_port(final_stage: list[tuple[str, str]]) -> None:
    assert any(kind == "EXPOSE" and "8080" in a for kind, a in final_stage)
    env = " ".join(a for kind, a in final_stage if kind == "ENV")
    assert re.search(r"\bPORT=8080\b", env)
    [cmd] = [json.loads(a) for kind, a in final_stage if kind == "CMD"]
    assert cmd[0] == "functions-framework"
    assert cmd[cmd.index("--source") + 1] == "handler.py"
    assert cmd[cmd.index("--target") + 1] == "gen"
    assert "--port" not in cmd, "the port comes from $PORT"


def test_dockerfile_installs_only_requirements_txt() -> None:
    instructions = _instructions(ROOT / "Dockerfile")
    installs = [a for kind, a in instructions if kind == "RUN" and "pip install" in a]
    assert installs
    for install in installs:
        words = install.split("pip install", 1)[1].split()
        named = [w for w in words if not w.startswith("-") and "requirements.txt" not in w]
        assert named == [], f"only requirements.txt may be installed: {install}"
        assert "requirements.txt" in install
        assert "requirements-dev" not in install


def test_dockerfile_copies_the_function_only(final_stage: list[tuple[str, str]]) -> None:
    copies = [a.split() for kind, a in final_stage if kind == "COPY"]
    sources = {s.rstrip("/") for c in copies if not c[0].startswith("--from") for s in c[:-1]}
    assert sources == {
        "handler.py",
        "aiops",
        "examples/index.html",
        "examples/aiops-client.js",
    }, sources


def test_dockerignore_lets_in_only_what_the_image_needs() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "requirements.txt",
        "requirements-lambda.txt",
        "handler.py",
        "aiops",
        "examples/index.html",
        "examples/aiops-client.js",
    }
    assert "aiops/eval" in lines


@pytest.mark.parametrize(
    ("python", "says"),
    [("/nonexistent/python3.12", "does not run"), ("python-3.11", "is Python 3.11, not 3.12")],
)
def test_packaging_without_python_3_12_says_what_to_install(
    tmp_path: Path, python: str, says: str
) -> None:
    """Checked before serverless-python-requirements runs, so neither its "poetry docs" advice
    nor a warm cache in ~/.cache/serverless-python-requirements hides it (issue 15, item 3)."""
    if not python.startswith("/"):  # a Python that answers 3.11, whatever this machine has
        fake = tmp_path / python
        fake.write_text("#!/bin/sh\necho 3.11\n")
        fake.chmod(0o755)
        python = str(fake)
    env = {**os.environ, "AIOPS_LAMBDA_PYTHON": python, "SLS_TELEMETRY_DISABLED": "1"}
    command = ["npx", "--no-install", "osls", "package", "--stage", "ci", "--package"]
    with one_packaging():
        done = subprocess.run(
            [*command, str(tmp_path / "out")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert says in output and "AIOPS_LAMBDA_PYTHON" in output, output[-2000:]
    assert "poetry" not in output
    assert not (tmp_path / "out" / "aiops.zip").exists()
