"""The form (README "The API"): every normalisation rule as a table, defaults, fallbacks and
the diff."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import json_repair
import pytest

from aiops.form import (
    FIELDS,
    Limits,
    Normalised,
    changed_fields,
    default_form,
    dumps_form,
    normalise,
)
from aiops.settings import Settings

EXAMPLES = Path(__file__).resolve().parent / "data" / "original_examples.json"
OK, WARN, ERROR = "ok", "warn", "error"


def ok(raw: Any, expected: Any, id: str) -> Any:
    """A case whose value normalises silently."""
    return pytest.param(raw, expected, OK, id=id)


def warn(raw: Any, expected: Any, id: str) -> Any:
    """A case whose value the service changes, with a warning."""
    return pytest.param(raw, expected, WARN, id=id)


def error(raw: Any, id: str) -> Any:
    """A case whose value cannot be normalised: an error, and the field keeps its default."""
    return pytest.param(raw, None, ERROR, id=id)


def check(field: str, raw: Any, expected: Any, outcome: str, limits: Limits | None = None) -> None:
    limits = limits or Limits()
    result = normalise({field: raw}, limits)
    value = result.form[field]
    if outcome == ERROR:
        assert result.errors, f"expected an error for {raw!r}"
        assert all(notice.field.startswith(field) for notice in result.errors)
        assert not result.warnings
        assert value == normalise({}, limits).form[field]
        return
    assert not result.errors
    assert value == expected
    assert type(value) is type(expected)
    assert bool(result.warnings) == (outcome == WARN), result.warnings
    assert all(notice.field.startswith(field) for notice in result.warnings)


# --- app_name -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok("hello-world", "hello-world", "valid"),
        ok("a", "a", "one-letter"),
        ok("web2", "web2", "digits-inside"),
        warn("My App", "my-app", "space-and-case"),
        warn("hello_world.v2", "hello-world-v2", "underscore-and-dot"),
        warn("--my--app--", "my-app", "runs-and-edges"),
        warn("1st-app", "st-app", "leading-digit"),
        warn("my@app!", "my-app", "other-characters"),
        warn("Ｈａｌｏ", "halo", "full-width"),
        warn("a" * 40, "a" * 25, "cut-to-limit"),
        warn("abcdefghijklmnopqrstuvwx-yz", "abcdefghijklmnopqrstuvwx", "cut-then-strip-dash"),
        warn("我的 blog", "blog", "chinese-dropped"),
        error("123", "digits-only"),
        error("中文", "chinese-only"),
        error("", "empty"),
        error("---", "dashes-only"),
        error(None, "null"),
        error(42, "number"),
        error(["app"], "list"),
    ],
)
def test_app_name(raw: Any, expected: Any, outcome: str) -> None:
    check("app_name", raw, expected, outcome)


def test_app_name_follows_the_configured_length() -> None:
    check("app_name", "abcdefghij", "abcde", WARN, Limits(app_name_max=5))


# --- image_name ---------------------------------------------------------------------------------

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok("mysql:8.4", "mysql:8.4", "name-and-tag"),
        ok("  mysql:8.4\n", "mysql:8.4", "trimmed"),
        ok("bitnami/redis:7.2", "bitnami/redis:7.2", "path"),
        ok("halohub/halo:2.5", "halohub/halo:2.5", "halo"),
        ok("ghcr.io/org/app:V1.0_rc", "ghcr.io/org/app:V1.0_rc", "registry-and-cased-tag"),
        ok("localhost:5000/team/app:1.0", "localhost:5000/team/app:1.0", "registry-port"),
        ok("my-registry.io/a__b/c-d:1", "my-registry.io/a__b/c-d:1", "separators"),
        ok(f"quay.io/org/app@{DIGEST}", f"quay.io/org/app@{DIGEST}", "digest"),
        ok(f"nginx:1.27@{DIGEST}", f"nginx:1.27@{DIGEST}", "tag-and-digest"),
        warn("docker pull mysql:8.4", "mysql:8.4", "docker-pull"),
        warn("Docker Pull mysql:8.4", "mysql:8.4", "docker-pull-any-case"),
        warn("docker pull --platform linux/amd64 redis:7", "redis:7", "docker-pull-flag"),
        warn("docker run -d -p 80:80 nginx:1.27", "nginx:1.27", "docker-run-flags"),
        warn("docker run -dp 8080:80 nginx:1.27", "nginx:1.27", "docker-run-combined-flags"),
        warn(
            "docker run --name web -e A=1 -v /data:/data --restart=always nginx:1.27 "
            "nginx -g 'daemon off;'",
            "nginx:1.27",
            "docker-run-long-flags-and-args",
        ),
        warn("docker run --rm -it ubuntu:24.04 bash", "ubuntu:24.04", "docker-run-switches"),
        warn("MySQL:8.4", "mysql:8.4", "upper-case-path"),
        warn("ghcr.io/Org/App:V1", "ghcr.io/org/app:V1", "upper-case-path-keeps-tag"),
        error("docker run --frobnicate nginx:1.27", "docker-run-unknown-flag"),
        error("docker run -d", "docker-run-no-image"),
        error("docker pull a:1 b:2", "docker-pull-two-images"),
        error("docker run -e 'A=1 nginx:1", "docker-run-unbalanced-quote"),
        error("my sql:8", "space-inside"),
        error("", "empty"),
        error("   ", "blank"),
        error("nginx:", "empty-tag"),
        error("nginx@sha256:xyz", "bad-digest"),
        error("nginx:1:2", "two-tags"),
        error("a//b:1", "empty-component"),
        error("-nginx:1", "leading-dash"),
        error("nginx:" + "1" * 129, "tag-too-long"),
        error("a" * 250 + ":1.0.0", "too-long"),
        error("镜像:1", "not-ascii"),
        error(None, "null"),
        error(["nginx"], "list"),
    ],
)
def test_image_name(raw: Any, expected: Any, outcome: str) -> None:
    check("image_name", raw, expected, outcome)


@pytest.mark.parametrize(
    ("raw", "repository"),
    [
        pytest.param("mysql", "mysql", id="no-tag"),
        pytest.param("mysql:latest", "mysql", id="latest"),
        pytest.param("ghcr.io/org/app", "ghcr.io/org/app", id="registry-no-tag"),
        pytest.param("docker pull redis", "redis", id="docker-pull-no-tag"),
    ],
)
def test_floating_image_stays_with_a_warning(raw: str, repository: str) -> None:
    result = normalise({"image_name": raw})
    assert result.form["image_name"] == raw.removeprefix("docker pull ")
    assert not result.errors
    assert (
        "image_name",
        "no_version_tag",
        f"no version tag: `{repository}` follows `latest`; pin a version such as "
        f"`{repository}:<version>` for repeatable deploys",
    ) in [(notice.field, notice.code, notice.message) for notice in result.warnings]


def test_digest_pins_an_image_without_a_tag() -> None:
    result = normalise({"image_name": f"mysql@{DIGEST}"})
    assert result.form["image_name"] == f"mysql@{DIGEST}"
    assert result.warnings == [] and result.errors == []


# --- instance -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok(1, 1, "one"),
        ok(20, 20, "maximum"),
        ok("2", 2, "numeric-string"),
        ok(2.0, 2, "whole-float"),
        ok("2.0", 2, "whole-float-string"),
        ok("两个", 2, "liang-ge"),
        ok("2个", 2, "digit-ge"),
        ok("两个实例", 2, "liang-ge-shi-li"),
        ok("3个副本", 3, "fu-ben"),
        ok("三", 3, "san"),
        ok("十", 10, "shi"),
        ok("十二", 12, "shi-er"),
        ok("４", 4, "full-width-digit"),
        ok("3 replicas", 3, "english-replicas"),
        ok("two instances", 2, "english-word"),
        warn(0, 1, "zero-clamped"),
        warn(-1, 1, "negative-clamped"),
        warn(50, 20, "above-clamped"),
        warn("100", 20, "string-above-clamped"),
        warn("二十五", 20, "chinese-above-clamped"),
        warn(10**30, 20, "huge-clamped"),
        error(2.5, "fraction"),
        error("2.5", "fraction-string"),
        error("a few", "a-few"),
        error("几个", "ji-ge"),
        error("", "empty"),
        error(True, "boolean"),
        error(None, "null"),
        error([2], "list"),
        error({"count": 2}, "object"),
    ],
)
def test_instance(raw: Any, expected: Any, outcome: str) -> None:
    check("instance", raw, expected, outcome)


def test_instance_clamps_to_the_configured_maximum() -> None:
    check("instance", 9, 5, WARN, Limits(max_instances=5))


# --- cpu ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok(0.5, 0.5, "float"),
        ok(1, 1, "int"),
        ok(1.0, 1, "whole-float-as-int"),
        ok(0.1, 0.1, "smallest"),
        ok("0.5", 0.5, "string"),
        ok("500m", 0.5, "millicores"),
        ok("1000m", 1, "millicores-whole"),
        ok("1 core", 1, "one-core"),
        ok("2 cores", 2, "cores"),
        ok("2核", 2, "he"),
        ok("两核", 2, "liang-he"),
        ok("半核", 0.5, "ban-he"),
        ok("0.5核", 0.5, "decimal-he"),
        ok("4 核心", 4, "he-xin"),
        ok("1C", 1, "c"),
        ok("2 vCPU", 2, "vcpu"),
        ok("8 CPUs", 8, "cpus"),
        warn(0.3, 0.5, "snaps-up"),
        warn("300m", 0.5, "millicores-snap-up"),
        warn(1.5, 2, "snaps-up-to-int"),
        warn("1.5核", 2, "chinese-snaps-up"),
        warn(0.01, 0.1, "tiny-snaps-up"),
        warn(16, 8, "clamped"),
        warn("64 cores", 8, "string-clamped"),
        error(0, "zero"),
        error(-1, "negative"),
        error("0m", "zero-millicores"),
        error("lots", "junk"),
        error("", "empty"),
        error(True, "boolean"),
        error(None, "null"),
        error([1], "list"),
    ],
)
def test_cpu(raw: Any, expected: Any, outcome: str) -> None:
    check("cpu", raw, expected, outcome)


def test_cpu_error_says_what_is_allowed() -> None:
    result = normalise({"cpu": "lots"})
    assert [(notice.field, notice.code, notice.message) for notice in result.errors] == [
        (
            "cpu",
            "invalid_value",
            'cpu "lots" is not a number of cores; use one of 0.1, 0.2, 0.5, 1, 2, 3, 4, 8',
        )
    ]


# --- memory -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok("512M", "512M", "canonical"),
        ok("512Mi", "512M", "mebibytes"),
        ok("512MB", "512M", "megabytes-mean-mib"),
        ok("512 MiB", "512M", "mib-with-space"),
        ok("512m", "512M", "lower-case"),
        ok("0.5G", "512M", "half-gig"),
        ok("1Gi", "1G", "gibibyte"),
        ok("1GB", "1G", "gigabyte-means-gib"),
        ok("2g", "2G", "lower-g"),
        ok("1024", "1G", "bare-string-mib"),
        ok(512, "512M", "bare-int-mib"),
        ok(64.0, "64M", "bare-float-mib"),
        ok("16G", "16G", "maximum"),
        ok("２G", "2G", "full-width"),
        warn("1.5G", "2G", "snaps-up-gig"),
        warn("500Mi", "512M", "snaps-up-500mi"),
        warn(1000, "1G", "bare-snaps-up"),
        warn("10M", "64M", "below-smallest"),
        warn("64G", "16G", "clamped"),
        warn("1T", "16G", "terabyte-clamped"),
        warn("1Ti", "16G", "tebibyte-clamped"),
        warn("1.5 GiB", "2G", "gib-with-space-snaps-up"),
        error("junk", "junk"),
        error("512X", "unknown-unit"),
        error("", "empty"),
        error(0, "zero"),
        error("-1G", "negative"),
        error(True, "boolean"),
        error(None, "null"),
        error(["1G"], "list"),
    ],
)
def test_memory(raw: Any, expected: Any, outcome: str) -> None:
    check("memory", raw, expected, outcome)


# --- container_port -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok(80, 80, "int"),
        ok(1, 1, "lowest"),
        ok(65535, 65535, "highest"),
        ok("8090", 8090, "string"),
        ok(" 443 ", 443, "padded-string"),
        ok(8090.0, 8090, "whole-float"),
        error(0, "zero"),
        error(65536, "above"),
        error(-1, "negative"),
        error(80.5, "fraction"),
        error("http", "junk"),
        error("80:80", "mapping"),
        error("", "empty"),
        error(True, "boolean"),
        error(None, "null"),
    ],
)
def test_container_port(raw: Any, expected: Any, outcome: str) -> None:
    check("container_port", raw, expected, outcome)


# --- public_access ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        *(
            ok(raw, True, f"true-{raw!r}")
            for raw in (True, "true", "TRUE", "yes", "y", "on", "1", 1, "是", "开启", "打开", "开")
        ),
        *(
            ok(raw, False, f"false-{raw!r}")
            for raw in (False, "false", "No", "n", "off", "0", 0, "否", "关闭", "关", "")
        ),
        error("maybe", "junk"),
        error(2, "two"),
        error(None, "null"),
        error([True], "list"),
    ],
)
def test_public_access(raw: Any, expected: Any, outcome: str) -> None:
    check("public_access", raw, expected, outcome)


# --- command and parameters ---------------------------------------------------------------------


@pytest.mark.parametrize("field", ["command", "parameters"])
@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok("nginx -g 'daemon off;'", "nginx -g 'daemon off;'", "words"),
        ok("  npm start \n", "npm start", "trimmed"),
        ok('["sh","-c","echo hi"]', '["sh","-c","echo hi"]', "json-string-kept"),
        ok(["sh", "-c", "echo hi"], '["sh", "-c", "echo hi"]', "list-to-json"),
        ok(["--port", 8080, 1.5], '["--port", "8080", "1.5"]', "numbers-to-strings"),
        ok(["打印", "中文"], '["打印", "中文"]', "non-ascii-kept"),
        ok([], "", "empty-list"),
        ok(None, "", "null"),
        ok("", "", "empty"),
        ok("x" * 16384, "x" * 16384, "at-the-limit"),
        error("x" * 16385, "too-long"),
        error(["a", None], "null-item"),
        error(["a", True], "boolean-item"),
        error(["a", ["b"]], "nested-list"),
        error(5, "number"),
        error(True, "boolean"),
        error({"cmd": "x"}, "object"),
    ],
)
def test_command_and_parameters(field: str, raw: Any, expected: Any, outcome: str) -> None:
    check(field, raw, expected, outcome)


# --- environment --------------------------------------------------------------------------------


def env(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok([{"name": "A", "value": "1"}], env(("A", "1")), "canonical"),
        ok([{"key": "A", "value": "1"}], env(("A", "1")), "key-for-name"),
        ok([{"name": "A", "value": "1", "secret": True}], env(("A", "1")), "extra-keys-dropped"),
        ok([{"name": "A"}], env(("A", "")), "missing-value"),
        ok(
            [{"name": "spring.r2dbc.url", "value": "r2dbc:pool:postgresql://h/db"}],
            env(("spring.r2dbc.url", "r2dbc:pool:postgresql://h/db")),
            "dotted-name",
        ),
        ok([{"name": "-x_.Y9", "value": ""}], env(("-x_.Y9", "")), "all-allowed-characters"),
        ok(
            {"A": "1", "B": 2, "C": 1.5, "D": True, "E": False, "F": None},
            env(("A", "1"), ("B", "2"), ("C", "1.5"), ("D", "true"), ("E", "false"), ("F", "")),
            "object-and-scalar-values",
        ),
        ok(
            "A=1\n\n# a comment\nexport B=two words\nC='quoted'\nD=x=y\r\nE=",
            env(("A", "1"), ("B", "two words"), ("C", "quoted"), ("D", "x=y"), ("E", "")),
            "lines",
        ),
        ok(["A=1", "B=2"], env(("A", "1"), ("B", "2")), "list-of-lines"),
        ok("", [], "empty-string"),
        ok(None, [], "null"),
        ok([], [], "empty-list"),
        ok({"PASS": "密码"}, env(("PASS", "密码")), "non-ascii-value"),
        warn(
            [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "A", "value": "3"}],
            env(("A", "3"), ("B", "2")),
            "duplicate-last-wins",
        ),
        warn("A=1\nA=2", env(("A", "2")), "duplicate-lines"),
        error([{"name": "MY VAR", "value": "x"}], "space-in-name"),
        error({"1ABC": "x"}, "leading-digit"),
        error("A: 1", "colon-line"),
        error("just words", "no-equals"),
        error([{"value": "x"}], "no-name"),
        error([{"name": 5, "value": "x"}], "number-name"),
        error([{"name": "A", "value": {"x": 1}}], "object-value"),
        error([{"name": "A", "value": ["x"]}], "list-value"),
        error([["A", "1"]], "list-item"),
        error([None], "null-item"),
        error({"A": "x" * 16385}, "value-too-long"),
        error({f"V{i}": "x" for i in range(101)}, "too-many"),
        error(5, "number"),
        error(True, "boolean"),
    ],
)
def test_environment(raw: Any, expected: Any, outcome: str) -> None:
    check("environment", raw, expected, outcome)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param([{"name": "MY VAR", "value": "x"}], "environment.MY VAR", id="bad-name"),
        pytest.param({"A": [1]}, "environment.A", id="bad-value"),
        pytest.param(["A=1", 7], "environment[1]", id="bad-item"),
        pytest.param({f"V{i}": "" for i in range(101)}, "environment", id="too-many"),
    ],
)
def test_environment_errors_name_the_variable(raw: Any, field: str) -> None:
    assert [notice.field for notice in normalise({"environment": raw}).errors] == [field]


def test_environment_duplicate_warning_names_the_variable() -> None:
    result = normalise({"environment": "A=1\nA=2"})
    assert [notice.field for notice in result.warnings] == ["environment.A"]


# --- configmap ----------------------------------------------------------------------------------


def files(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"file_path": path, "file_content": content} for path, content in pairs]


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok(
            [{"file_path": "/etc/nginx/nginx.conf", "file_content": "events {}"}],
            files(("/etc/nginx/nginx.conf", "events {}")),
            "canonical",
        ),
        ok([{"mountPath": "/app/a.yml", "value": "a: 1"}], files(("/app/a.yml", "a: 1")), "camel"),
        ok([{"mount_path": "/app/b.yml", "content": "b"}], files(("/app/b.yml", "b")), "snake"),
        ok([{"path": "/app/c.yml", "content": None}], files(("/app/c.yml", "")), "null-content"),
        ok(
            [{"file_path": " /app/d.ini ", "file_content": "x", "mode": 420}],
            files(("/app/d.ini", "x")),
            "trimmed-path-extra-keys-dropped",
        ),
        ok(None, [], "null"),
        ok([], [], "empty"),
        warn(
            [
                {"file_path": "/app/a.yml", "file_content": "1"},
                {"file_path": "/app/b.yml", "file_content": "2"},
                {"file_path": "/app/a.yml", "file_content": "3"},
            ],
            files(("/app/a.yml", "3"), ("/app/b.yml", "2")),
            "duplicate-last-wins",
        ),
        error([{"file_path": "etc/a.conf", "file_content": "x"}], "relative-path"),
        error([{"file_path": "/etc/a b.conf", "file_content": "x"}], "space-in-path"),
        error([{"file_path": "/etc/a.conf-", "file_content": "x"}], "path-ends-with-dash"),
        error([{"file_content": "x"}], "no-path"),
        error([{"file_path": "/etc/a.conf", "file_content": 5}], "number-content"),
        error([{"file_path": "/etc/a.conf", "file_content": "x" * 16385}], "content-too-long"),
        error(
            [{"file_path": f"/etc/f{i}.conf", "file_content": ""} for i in range(21)], "too-many"
        ),
        error(["/etc/a.conf"], "string-item"),
        error({"/etc/a.conf": "x"}, "object"),
        error("", "string"),
    ],
)
def test_configmap(raw: Any, expected: Any, outcome: str) -> None:
    check("configmap", raw, expected, outcome)


def test_configmap_error_names_the_item() -> None:
    raw = [{"file_path": "/etc/ok.conf"}, {"file_path": "relative"}]
    assert [notice.field for notice in normalise({"configmap": raw}).errors] == [
        "configmap[1].file_path"
    ]


# --- storage ------------------------------------------------------------------------------------


def volumes(*pairs: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"capacity": capacity, "value": path} for capacity, path in pairs]


@pytest.mark.parametrize(
    ("raw", "expected", "outcome"),
    [
        ok([{"capacity": 10, "value": "/var/lib/mysql"}], volumes((10, "/var/lib/mysql")), "int"),
        ok([{"capacity": "10Gi", "value": "/data"}], volumes((10, "/data")), "gi"),
        ok([{"capacity": "10G", "value": "/data"}], volumes((10, "/data")), "g"),
        ok([{"capacity": "10", "value": "/data"}], volumes((10, "/data")), "bare-string-gib"),
        ok([{"capacity": 10.0, "value": "/data"}], volumes((10, "/data")), "whole-float"),
        ok([{"capacity": "1024Mi", "value": "/data"}], volumes((1, "/data")), "mib-whole-gib"),
        ok([{"capacity": 20, "mount_path": "/data"}], volumes((20, "/data")), "mount_path"),
        ok([{"capacity": 1, "path": "/data"}], volumes((1, "/data")), "path"),
        ok([{"capacity": 1, "mountPath": "/data", "name": "x"}], volumes((1, "/data")), "camel"),
        ok(None, [], "null"),
        ok([], [], "empty"),
        warn([{"capacity": 0.5, "value": "/data"}], volumes((1, "/data")), "half-snaps-up"),
        warn([{"capacity": "500Mi", "value": "/data"}], volumes((1, "/data")), "mib-snaps-up"),
        warn([{"capacity": 1.5, "value": "/data"}], volumes((2, "/data")), "fraction-snaps-up"),
        warn([{"capacity": 0, "value": "/data"}], volumes((1, "/data")), "zero-to-one"),
        warn([{"capacity": 30, "value": "/data"}], volumes((20, "/data")), "clamped"),
        warn([{"capacity": "1Ti", "value": "/data"}], volumes((20, "/data")), "tebibyte-clamped"),
        warn(
            [{"capacity": 1, "value": "/data"}, {"capacity": 5, "value": "/data"}],
            volumes((5, "/data")),
            "duplicate-last-wins",
        ),
        error([{"capacity": 10, "value": "data"}], "relative-path"),
        error([{"capacity": 10}], "no-path"),
        error([{"value": "/data"}], "no-capacity"),
        error([{"capacity": "lots", "value": "/data"}], "junk-capacity"),
        error([{"capacity": True, "value": "/data"}], "boolean-capacity"),
        error([{"capacity": 1, "value": f"/d{i}"} for i in range(21)], "too-many"),
        error([10], "number-item"),
        error({"capacity": 10, "value": "/data"}, "object-not-list"),
    ],
)
def test_storage(raw: Any, expected: Any, outcome: str) -> None:
    check("storage", raw, expected, outcome)


def test_storage_capacity_is_an_int() -> None:
    result = normalise({"storage": [{"capacity": "10.0Gi", "value": "/data"}]})
    assert type(result.form["storage"][0]["capacity"]) is int


def test_storage_errors_name_the_item() -> None:
    raw = [{"capacity": 1, "value": "/ok"}, {"capacity": 1, "value": "bad"}, {"value": "/x/y"}]
    assert [notice.field for notice in normalise({"storage": raw}).errors] == [
        "storage[1].value",
        "storage[2].capacity",
    ]


def test_storage_follows_the_configured_maximum() -> None:
    raw = [{"capacity": 40, "value": "/data"}]
    check("storage", raw, volumes((40, "/data")), OK, Limits(max_storage_gi=50))


# --- the whole form -----------------------------------------------------------------------------


def test_default_form_is_complete_and_valid() -> None:
    form = default_form()
    assert form == {
        "app_name": "hello-world",
        "image_name": "nginx",
        "instance": 1,
        "cpu": 0.2,
        "memory": "256M",
        "container_port": 80,
        "public_access": False,
        "command": "",
        "parameters": "",
        "environment": [],
        "configmap": [],
        "storage": [],
    }
    assert tuple(form) == FIELDS
    assert normalise(form).form == form
    assert normalise(form).errors == []


def test_default_form_is_a_fresh_copy() -> None:
    default_form()["environment"].append({"name": "A", "value": ""})
    assert default_form()["environment"] == []


def test_empty_values_give_the_defaults_silently() -> None:
    assert normalise({}) == Normalised(form=default_form(), warnings=[], errors=[])


def test_missing_fields_come_from_previous_silently() -> None:
    previous = normalise({"app_name": "halo", "cpu": 2, "environment": {"A": "1"}}).form
    result = normalise({"memory": "1G"}, previous=previous)
    assert result.form == previous | {"memory": "1G"}
    assert result.warnings == [] and result.errors == []


def test_a_field_that_fails_keeps_its_previous_value() -> None:
    previous = normalise({"cpu": 2, "image_name": "mysql:8.4", "environment": "A=1"}).form
    result = normalise(
        {"cpu": "lots", "image_name": "my sql", "environment": "A=2\nB C=3", "memory": "1G"},
        previous=previous,
    )
    assert result.form["cpu"] == 2
    assert result.form["image_name"] == "mysql:8.4"
    assert result.form["environment"] == env(("A", "1"))
    assert result.form["memory"] == "1G"
    assert [notice.field for notice in result.errors] == ["image_name", "cpu", "environment.B C"]


def test_a_field_that_fails_without_previous_takes_the_default() -> None:
    result = normalise({"cpu": "lots"})
    assert result.form["cpu"] == default_form()["cpu"]


def test_previous_values_are_copied_not_shared() -> None:
    previous = normalise({"environment": "A=1"}).form
    result = normalise({}, previous=previous)
    result.form["environment"].append({"name": "B", "value": "2"})
    assert previous["environment"] == env(("A", "1"))


def test_unknown_keys_pass_through_untouched_in_order() -> None:
    nested = {"x": [1, {"y": None}]}
    values = {"zeta": 1, "cpu": "1", "alpha": nested, "app_name": "web", "mid": None}
    form = normalise(values).form
    assert list(form) == [*FIELDS, "zeta", "alpha", "mid"]
    assert form["alpha"] is nested
    assert form["zeta"] == 1 and form["mid"] is None


def test_warnings_of_a_failed_field_are_not_reported() -> None:
    result = normalise({"environment": "A=1\nA=2\nB C=3"})
    assert result.warnings == []
    assert [notice.field for notice in result.errors] == ["environment.B C"]


@pytest.mark.parametrize(
    "values",
    [[1, 2], "cpu=1", 42, None, True],
    ids=["list", "string", "number", "null", "boolean"],
)
def test_values_that_are_not_an_object_are_an_error(values: Any) -> None:
    result = normalise(values)
    assert result.form == default_form()
    assert [notice.field for notice in result.errors] == ["params"]


# --- limits -------------------------------------------------------------------------------------


def test_limits_from_settings() -> None:
    settings = Settings(
        cpu_choices=[2, 0.5, 1],
        memory_choices=["256M", "1G", "4G"],
        max_instances=5,
        max_storage_gi=50,
        app_name_max=10,
    )
    limits = settings.limits()
    assert limits == Limits(
        cpu_choices=(0.5, 1, 2),
        memory_choices=("256M", "1G", "4G"),
        max_instances=5,
        max_storage_gi=50,
        app_name_max=10,
    )
    assert [type(choice) for choice in limits.cpu_choices] == [float, int, int]


def test_custom_limits_drive_every_rule() -> None:
    limits = Settings(
        cpu_choices=[0.5, 1, 2],
        memory_choices=["256M", "1G", "4G"],
        max_instances=5,
        max_storage_gi=50,
        app_name_max=10,
    ).limits()
    result = normalise(
        {
            "app_name": "my-long-application",
            "instance": 9,
            "cpu": 0.2,
            "memory": "512M",
            "storage": [{"capacity": 40, "value": "/data"}],
        },
        limits,
    )
    form = result.form
    assert (form["app_name"], form["instance"], form["cpu"], form["memory"]) == (
        "my-long-ap",
        5,
        0.5,
        "1G",
    )
    assert form["storage"] == volumes((40, "/data"))
    assert {notice.field for notice in result.warnings} == {"app_name", "instance", "cpu", "memory"}
    assert normalise(form, limits).form == form


def test_defaults_are_fitted_to_custom_limits() -> None:
    limits = Limits(cpu_choices=(1, 2), memory_choices=("1G", "2G"), app_name_max=5)
    result = normalise({}, limits)
    assert (result.form["cpu"], result.form["memory"], result.form["app_name"]) == (
        1,
        "1G",
        "hello",
    )
    assert result.warnings == [] and result.errors == []


# --- changed_fields and dumps_form --------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param({"cpu": 1}, {"cpu": 1}, {}, id="same"),
        pytest.param({"cpu": 1}, {"cpu": 2}, {"cpu": 2}, id="changed"),
        pytest.param({}, {"cpu": 1}, {"cpu": 1}, id="added"),
        pytest.param({"cpu": 1, "x": 1}, {"cpu": 1}, {}, id="removed-not-listed"),
        pytest.param({"cpu": 1.0}, {"cpu": 1}, {}, id="same-number"),
        pytest.param({"cpu": "1"}, {"cpu": 1}, {"cpu": 1}, id="string-to-number"),
        pytest.param({"instance": True}, {"instance": 1}, {"instance": 1}, id="bool-to-int"),
        pytest.param(
            {"public_access": 0},
            {"public_access": False},
            {"public_access": False},
            id="int-to-bool",
        ),
        pytest.param(
            {"environment": [{"value": "1", "name": "A"}]},
            {"environment": [{"name": "A", "value": "1"}]},
            {},
            id="same-items-other-key-order",
        ),
        pytest.param(
            {"environment": None}, {"environment": []}, {"environment": []}, id="null-to-empty"
        ),
        pytest.param(
            {"storage": [{"capacity": 10, "value": "/a"}]},
            {"storage": [{"capacity": 20, "value": "/a"}]},
            {"storage": [{"capacity": 20, "value": "/a"}]},
            id="item-changed",
        ),
    ],
)
def test_changed_fields(before: dict, after: dict, expected: dict) -> None:
    assert changed_fields(before, after) == expected


def test_changed_fields_of_a_normalised_request() -> None:
    params = {"app_name": "hello-world", "image_name": "nginx", "cpu": 1, "memory": "64M"}
    after = normalise({**params, "image_name": "mysql:8.4", "memory": "1Gi"}).form
    assert changed_fields(params, after) == {
        "image_name": "mysql:8.4",
        "memory": "1G",
        "instance": 1,
        "container_port": 80,
        "public_access": False,
        "command": "",
        "parameters": "",
        "environment": [],
        "configmap": [],
        "storage": [],
    }


def test_dumps_form_is_strict_compact_json() -> None:
    form = normalise({"app_name": "halo", "environment": {"GREETING": "你好"}, "extra": [1]}).form
    text = dumps_form(form)
    assert json.loads(text) == form
    assert ",}" not in text and ",]" not in text
    assert ": " not in text and ", " not in text
    assert "你好" in text
    assert list(json.loads(text)) == [*FIELDS, "extra"]


def test_dumps_form_refuses_what_json_cannot_hold() -> None:
    with pytest.raises(ValueError):
        dumps_form({"x": float("nan")})


# --- the original service's examples ------------------------------------------------------------


def raw_model_output(name: str) -> dict[str, Any]:
    examples = json.loads(EXAMPLES.read_text(encoding="utf-8"))["examples"]
    [example] = [example for example in examples if example["name"] == name]
    return json_repair.loads(example["raw_model_output"])


def test_original_mysql_example() -> None:
    result = normalise(raw_model_output("simple_deploy"))
    form = result.form
    assert result.errors == []
    assert form["image_name"] == "mysql"
    assert form["memory"] == "1G"
    assert form["cpu"] == 1 and type(form["cpu"]) is int
    assert form["container_port"] == 3306
    assert form["storage"] == [{"capacity": 10, "value": "/var/lib/mysql"}]
    assert form["configmap"] == []
    assert form["environment"] == env(("MYSQL_ROOT_PASSWORD", "password"))
    assert [notice.field for notice in result.warnings] == ["image_name"]


def test_original_followup_example_changes_only_what_it_names() -> None:
    before = normalise(raw_model_output("simple_deploy")).form
    after = normalise(before | raw_model_output("multi_turn_followup"), previous=before).form
    assert changed_fields(before, after) == {"cpu": 0.5, "memory": "512M"}


def test_original_halo_example() -> None:
    result = normalise(raw_model_output("complex_deploy_pasted_docs"))
    form = result.form
    assert result.errors == [] and result.warnings == []
    assert form["app_name"] == "halo"
    assert form["image_name"] == "halohub/halo:2.5"
    assert form["memory"] == "512M"
    assert form["container_port"] == 8090
    assert form["public_access"] is True
    assert form["storage"] == [] and form["configmap"] == []
    assert [item["name"] for item in form["environment"]] == [
        "spring.sql.init.platform",
        "spring.r2dbc.url",
        "spring.r2dbc.username",
        "spring.r2dbc.password",
        "halo.external-url",
        "halo.security.initializer.superadminusername",
        "halo.security.initializer.superadminpassword",
    ]
    assert form["environment"][1]["value"] == (
        "r2dbc:pool:postgresql://postgres:rcx7f47m@dbname-postgresql.ns-sy32q9p9.svc:5432/halo"
    )
