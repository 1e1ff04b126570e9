"""The requests the bench sends and what the scripted model answers to them.

The model answers like a well-behaved provider in `json_schema` mode would: one wrapper object
`{"changes": {...}, "reply": "...", "questions": []}` with only the fields to change. The answer
is chosen from the user's text found in the last message of the prompt (AIops fences it; the
floor puts it last), so that AIops and the floor get the same answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.harness import BENCH_KEY, ROOT
from tests.fixtures.app import START_FORM

EXAMPLES_PATH = ROOT / "tests" / "data" / "original_examples.json"

STARTING_FORM: dict[str, Any] = START_FORM

MYSQL_ENV = [{"name": "MYSQL_ROOT_PASSWORD", "value": "Zq8vR2mX7tLw4pKc9yBn"}]

# (user's text, the model's changes, the model's reply): a 10-turn conversation about one app.
CONVERSATION: list[tuple[str, dict[str, Any], str]] = [
    (
        "请帮我部署一个mysql",
        {
            "image_name": "mysql:8.4",
            "memory": "1G",
            "container_port": 3306,
            "environment": MYSQL_ENV,
            "storage": [{"capacity": 10, "value": "/var/lib/mysql"}],
        },
        "已将镜像改为 mysql:8.4，端口 3306，内存 1G，并为 /var/lib/mysql 配置了 10G 存储；"
        "已生成 root 密码。",
    ),
    (
        "把内存和CPU量调低些",
        {"cpu": 0.5, "memory": "512M"},
        "已将 CPU 调为 0.5 核，内存调为 512M。",
    ),
    ("副本数改成2", {"instance": 2}, "已将副本数改为 2。"),
    (
        "add an environment variable TZ=Asia/Shanghai",
        {"environment": [*MYSQL_ENV, {"name": "TZ", "value": "Asia/Shanghai"}]},
        "Added TZ=Asia/Shanghai to the environment.",
    ),
    (
        "存储改成20G",
        {"storage": [{"capacity": 20, "value": "/var/lib/mysql"}]},
        "已将 /var/lib/mysql 的存储改为 20G。",
    ),
    ("应用名改成 mysql-prod", {"app_name": "mysql-prod"}, "已将应用名改为 mysql-prod。"),
    (
        "add a config file /etc/mysql/conf.d/my.cnf that sets max_connections=500",
        {
            "configmap": [
                {
                    "file_path": "/etc/mysql/conf.d/my.cnf",
                    "file_content": "[mysqld]\nmax_connections=500\n",
                }
            ]
        },
        "Mounted /etc/mysql/conf.d/my.cnf with max_connections=500.",
    ),
    ("use mysql 8.0 instead", {"image_name": "mysql:8.0"}, "Switched the image to mysql:8.0."),
    ("给 1G 内存吧，0.5 核不够", {"cpu": 1, "memory": "1G"}, "已将 CPU 调为 1 核，内存调为 1G。"),
    (
        "also create a database named app (MYSQL_DATABASE=app)",
        {
            "environment": [
                *MYSQL_ENV,
                {"name": "TZ", "value": "Asia/Shanghai"},
                {"name": "MYSQL_DATABASE", "value": "app"},
            ]
        },
        "Added MYSQL_DATABASE=app; MySQL creates the database on first start.",
    ),
]

HALO_ANSWER: tuple[dict[str, Any], str] = (
    {
        "app_name": "halo",
        "image_name": "halohub/halo:2.5",
        "cpu": 1,
        "memory": "512M",
        "container_port": 8090,
        "public_access": True,
        "environment": [
            {"name": "spring.sql.init.platform", "value": "postgresql"},
            {
                "name": "spring.r2dbc.url",
                "value": "r2dbc:pool:postgresql://postgres:rcx7f47m@dbname-postgresql."
                "ns-sy32q9p9.svc:5432/halo",
            },
            {"name": "spring.r2dbc.username", "value": "postgres"},
            {"name": "spring.r2dbc.password", "value": "rcx7f47m"},
            {"name": "halo.external-url", "value": "tmtdvfjiyyfh.cloud.sealos.io"},
            {"name": "halo.security.initializer.superadminusername", "value": "root"},
            {"name": "halo.security.initializer.superadminpassword", "value": "sealos"},
        ],
        "storage": [{"capacity": 1, "value": "/root/.halo2"}],
    },
    "已按文档配置 Halo 2.5：端口 8090、外网访问、PostgreSQL 连接和管理员账号，并为 /root/.halo2 "
    "配置了存储。",
)

DEFAULT_ANSWER = CONVERSATION[1]


def wrapper(changes: dict[str, Any], reply: str) -> str:
    return json.dumps({"changes": changes, "reply": reply, "questions": []}, ensure_ascii=False)


def answer_for(body: dict[str, Any]) -> str:
    """The scripted model's answer to a Chat Completions request body."""
    messages = body.get("messages") or [{}]
    last = str(messages[-1].get("content", ""))
    if "halohub/halo" in last:
        return wrapper(*HALO_ANSWER)
    # The longest matching text wins ("请帮我部署一个mysql" is not inside a follow-up).
    for text, changes, reply in sorted(CONVERSATION, key=lambda turn: -len(turn[0])):
        if text in last:
            return wrapper(changes, reply)
    return wrapper(DEFAULT_ANSWER[1], DEFAULT_ANSWER[2])


def gen_body(user_input: str, params: dict[str, Any], parent: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"user_input": user_input, "openai_token": BENCH_KEY, "params": params}
    if parent:
        body["parent_message_id"] = parent
    return body


def original_examples() -> list[dict[str, Any]]:
    """The original README's examples (tests/data/original_examples.json)."""
    return json.loads(Path(EXAMPLES_PATH).read_text())["examples"]


def form_of(answer: dict[str, Any]) -> dict[str, Any]:
    return json.loads(answer["GenParamsStr"])
