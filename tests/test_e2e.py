"""End to end: the real functions-framework server in a subprocess, the scripted model over real
HTTP through the openai SDK, replaying the original service's examples
(the original service's examples, kept in tests/data/original_examples.json).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.app import FAKE_KEY, LiveServer

EXAMPLES = {
    e["name"]: e
    for e in json.loads((Path(__file__).parent / "data" / "original_examples.json").read_text())[
        "examples"
    ]
}


def example_request(name: str) -> dict[str, Any]:
    return {**EXAMPLES[name]["request"], "openai_token": FAKE_KEY}


def warning_fields(answer: dict[str, Any]) -> set[str]:
    return {w["field"] for w in answer["Warnings"]}


def test_simple_deploy_mysql(live_server: LiveServer, model: Any) -> None:
    model.reply(EXAMPLES["simple_deploy"]["raw_model_output"])
    status, answer, headers = live_server.post(example_request("simple_deploy"))

    assert status == 200, answer
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Access-Control-Allow-Origin"] == "*"
    form = json.loads(answer["GenParamsStr"])  # strict JSON: no trailing commas
    password = form["environment"][0]["value"]
    assert form == {
        "app_name": "hello-world",
        "image_name": "mysql",
        "instance": 1,
        "cpu": 1,
        "memory": "1G",
        "container_port": 3306,
        "public_access": False,
        "command": "",
        "parameters": "",
        "environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": password}],
        "configmap": [],
        "storage": [{"capacity": 10, "value": "/var/lib/mysql"}],
    }
    # The model invented the weak "password": the service replaced it with a strong one.
    assert password != "password" and len(password) >= 20
    assert uuid.UUID(answer["MessageId"]).version == 4
    assert answer["Changes"] == {
        "image_name": "mysql",
        "memory": "1G",
        "container_port": 3306,
        "environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": password}],
        "storage": [{"capacity": 10, "value": "/var/lib/mysql"}],
    }
    assert answer["Reply"] and any("\u4e00" <= ch <= "\u9fff" for ch in answer["Reply"])
    assert answer["Questions"] == []
    assert {"image_name", "environment.MYSQL_ROOT_PASSWORD"} <= warning_fields(answer)
    assert answer["Usage"]["llm_calls"] == 1
    assert (
        answer["Usage"]["total_tokens"]
        == (answer["Usage"]["prompt_tokens"] + answer["Usage"]["completion_tokens"])
        > 0
    )
    assert answer["Model"] == "gpt-4o-mini"

    sent = model.completions[0]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["messages"][0]["role"] == "system"
    assert "请帮我部署一个mysql" in sent["messages"][-1]["content"]
    assert FAKE_KEY not in json.dumps(answer)


def test_pasted_halo_docs(live_server: LiveServer, model: Any) -> None:
    model.reply(EXAMPLES["complex_deploy_pasted_docs"]["raw_model_output"])
    status, answer, _ = live_server.post(example_request("complex_deploy_pasted_docs"))

    assert status == 200, answer
    form = json.loads(answer["GenParamsStr"])
    environment = [
        {"name": "spring.sql.init.platform", "value": "postgresql"},
        {
            "name": "spring.r2dbc.url",
            "value": "r2dbc:pool:postgresql://postgres:rcx7f47m@dbname-postgresql.ns-sy32q9p9.svc:5432/halo",
        },
        {"name": "spring.r2dbc.username", "value": "postgres"},
        {"name": "spring.r2dbc.password", "value": "rcx7f47m"},
        {"name": "halo.external-url", "value": "tmtdvfjiyyfh.cloud.sealos.io"},
        {"name": "halo.security.initializer.superadminusername", "value": "root"},
        {"name": "halo.security.initializer.superadminpassword", "value": "sealos"},
    ]
    assert form == {
        "app_name": "halo",
        "image_name": "halohub/halo:2.5",
        "instance": 1,
        "cpu": 1,
        "memory": "512M",
        "container_port": 8090,
        "public_access": True,
        "command": "",
        "parameters": "",
        "environment": environment,
        "configmap": [],
        "storage": [],
    }
    assert answer["Changes"] == {
        "app_name": "halo",
        "image_name": "halohub/halo:2.5",
        "memory": "512M",
        "container_port": 8090,
        "public_access": True,
        "environment": environment,
    }
    # The user's own passwords are never replaced, however weak.
    assert not any(w["field"].startswith("environment.") for w in answer["Warnings"])
    assert answer["Usage"]["llm_calls"] == 1


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("I'm sorry, I cannot do that.", id="apology"),
        pytest.param('{"changes": {"cpu": "lots"}}', id="invalid-value"),
        pytest.param("[1, 2, 3]", id="array"),
        pytest.param('{"changes": {"container_port": 99999999}', id="truncated-bad-port"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_model_output_costs_one_extra_call_and_never_500(
    live_server: LiveServer, model: Any, raw: str
) -> None:
    model.reply(raw, raw)
    status, answer, _ = live_server.post(example_request("simple_deploy"))
    assert status in (200, 502), answer
    assert len(model.completions) == 2
    if status == 502:
        assert answer["code"] == "bad_model_output"
    else:
        form = json.loads(answer["GenParamsStr"])
        assert form["cpu"] == 1 and form["container_port"] == 80  # previous values kept
        assert answer["Usage"]["llm_calls"] == 2


def test_the_re_ask_carries_only_the_remaining_errors(live_server: LiveServer, model: Any) -> None:
    model.reply(
        '{"changes": {"image_name": "redis:7.2", "container_port": 0, "memory": "256M"}}',
        '{"changes": {"container_port": 6379}, "reply": "Fixed the port.", "questions": []}',
    )
    status, answer, _ = live_server.post(example_request("simple_deploy"))
    assert status == 200, answer
    form = json.loads(answer["GenParamsStr"])
    assert (form["image_name"], form["container_port"], form["memory"]) == (
        "redis:7.2",
        6379,
        "256M",
    )
    re_ask = model.completions[1]["messages"][-1]["content"]
    assert "container_port" in re_ask
    assert "memory" not in re_ask and "image_name" not in re_ask
    assert answer["Reply"] == "Fixed the port."
