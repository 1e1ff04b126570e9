"""Tests of aiops/reply.py: a corpus of realistic model answers, each with its exact reading."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiops import reply as reply_module
from aiops.reply import ModelReply, UnreadableReply, parse_reply
from tests.fixtures.app import FORM_FIELDS


@dataclass(frozen=True)
class Rejected:
    """The expected `UnreadableReply`, with a part of its message."""

    says: str


def wrapper(changes: dict[str, Any], reply: str = "", questions: list[str] | None = None):
    return ModelReply(changes, reply, questions or [], "wrapper")


def form(changes: dict[str, Any], reply: str = "", questions: list[str] | None = None):
    return ModelReply(changes, reply, questions or [], "form")


# --- the original service's three raw outputs (shared/original/examples.json), as literals -----

ORIGINAL_SIMPLE_DEPLOY = (
    '{\n\t"app_name": "hello-world",\n    "image_name": "mysql",\n    "instance": 1,  \n'
    '    "cpu": 1,\n    "memory": "1G",\n    "container_port": 3306,\n'
    '    "public_access": false,\n    "command": "",\n    "parameters": "",\n'
    '    "environment": [\n    \t{\n    \t\t"name": "MYSQL_ROOT_PASSWORD",\n'
    '    \t\t"value": "password",\n    \t}\n    ],\n    "configmap": null,\n'
    '    "storage": [\n    \t{\n    \t    "capacity": 10,\n    \t\t"value": "/var/lib/mysql",\n'
    "    \t}\n    ],\n    }"
)
ORIGINAL_FOLLOWUP = '{\n    "cpu": 0.5,\n    "memory": "512M",\n    }'
ORIGINAL_HALO = (
    '{\n\t"app_name": "halo",\n    "image_name": "halohub/halo:2.5",\n    "instance": 1,\n'
    '    "cpu": 1,\n    "memory": "512M",\n    "container_port": 8090,\n'
    '    "public_access": true,\n    "command": "",\n    "parameters": "",\n'
    '    "environment": [\n    \t{      \n    \t\t"name": "spring.sql.init.platform",\n'
    '        \t"value": "postgresql"\n    \t},\n        {\n'
    '        \t"name": "spring.r2dbc.url",\n'
    '            "value": "r2dbc:pool:postgresql://postgres:rcx7f47m@dbname-postgresql'
    '.ns-sy32q9p9.svc:5432/halo"\n        },\n        {      \n'
    '        \t"name": "spring.r2dbc.username",\n            "value": "postgres"\n'
    '        },\n        {      \n        \t"name": "spring.r2dbc.password",\n'
    '            "value": "rcx7f47m"\n        },\n        {      \n'
    '        \t"name": "halo.external-url",\n'
    '            "value": "tmtdvfjiyyfh.cloud.sealos.io"\n        },\n        {\n'
    '        \t"name": "halo.security.initializer.superadminusername",\n'
    '            "value": "root"\n        },    \n        {\n'
    '        \t"name": "halo.security.initializer.superadminpassword",\n'
    '            "value": "sealos"\n        }\n    ],\n    "configmap": null,\n'
    '    "storage": null\n    }'
)
HALO_ENVIRONMENT = [
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

# --- answers of other shapes, as models write them ---------------------------------------------

STRICT_WRAPPER_EN = """{
  "changes": {"image_name": "redis:7.2", "container_port": 6379, "memory": "256M"},
  "reply": "Switched the image to redis:7.2 on port 6379 with 256M of memory.",
  "questions": []
}"""

STRICT_WRAPPER_ZH = """{
  "changes": {
    "image_name": "mysql:8.0",
    "container_port": 3306,
    "memory": "1G",
    "storage": [{"capacity": 10, "value": "/var/lib/mysql"}]
  },
  "reply": "已将镜像改为 mysql:8.0，端口 3306，并为 /var/lib/mysql 配置了 10G 存储。",
  "questions": ["MySQL 的 root 密码要由你来设定吗？"]
}"""

FENCED_JSON = """```json
{
  "changes": {"instance": 3, "public_access": true},
  "reply": "Scaled to 3 instances and opened public access.",
  "questions": []
}
```"""

FENCED_PLAIN = """```
{"changes": {"command": "npm", "parameters": "[\\"run\\", \\"start\\"]"}, "reply": "Set the \
start command.", "questions": []}
```"""

PROSE_AROUND = """Sure! Here is the updated configuration for your Nginx deployment:

{"changes": {"image_name": "nginx:1.27-alpine", "container_port": 80, "public_access": true},
 "reply": "Deployed nginx:1.27-alpine on port 80 with public access.", "questions": []}

Let me know if you need anything else, e.g. a custom nginx.conf."""

TRAILING_COMMAS = """{
  "changes": {
    "cpu": 2,
    "memory": "4G",
    "environment": [
      {"name": "JAVA_OPTS", "value": "-Xmx3g",},
    ],
  },
  "reply": "Raised the JVM heap to 3g with 2 cores and 4G.",
  "questions": [],
}"""

SINGLE_QUOTES_PYTHON = """{'changes': {'public_access': True, 'command': None, 'instance': 2},
 'reply': 'Opened public access and scaled to 2.', 'questions': None}"""

WITH_COMMENTS = """{
  // only what changes
  "changes": {
    "cpu": 0.5, /* half a core is enough for a static site */
    "memory": "128M"
  },
  "reply": "Trimmed to 0.5 core and 128M.",
  "questions": []
}"""

DEEPSEEK_R1_THINK = """<think>
The user wants WordPress. The form currently is {"app_name": "hello-world", "image_name": \
"nginx"}. WordPress listens on 80 and keeps its files in /var/www/html; it needs a database, \
so I should set {WORDPRESS_DB_HOST} and friends. Maybe {"image_name": "wordpress:6"} would do. \
The output must be {"changes": {...}, "reply": "...", "questions": [...]}. I don't know the \
DB host, so I'll ask.
</think>

{"changes": {"app_name": "wordpress", "image_name": "wordpress:6.6-apache", "container_port": 80,
 "public_access": true, "storage": [{"capacity": 5, "value": "/var/www/html"}]},
 "reply": "已配置 WordPress 6.6，端口 80，并为 /var/www/html 挂载 5G 存储。",
 "questions": ["WordPress 使用的 MySQL 数据库地址、用户名和密码是什么？"]}"""

UNCLOSED_THINK = """<think>
Okay, the user wants more memory. {memory} is 512M now; Grafana wants 1G. So the answer is

{"changes": {"image_name": "grafana/grafana:11.2.0", "memory": "1G", "container_port": 3000},
 "reply": "Grafana 11.2 on port 3000 with 1G.", "questions": []}"""

THINK_OPENING_CUT_OFF = """The user asks for Postgres {version 16}; the data dir is \
/var/lib/postgresql/data.
</think>
{"changes": {"image_name": "postgres:16", "container_port": 5432}, "reply": "Postgres 16.", \
"questions": []}"""

BARE_PARTIAL_FORM = '{"memory": "2G", "instance": 3}'

TRUNCATED_WRAPPER = """{"changes": {"image_name": "postgres:16-alpine", "container_port": 5432,
  "environment": [{"name": "POSTGRES_USER", "value": "app"}, {"name": "POSTGRES_DB", "value": "ap"""

TRUNCATED_FENCE = """```json
{
  "changes": {
    "image_name": "louislam/uptime-kuma:1",
    "container_port": 3001,
    "storage": [{"capacity": 2, "value": "/app/da"""

TRUNCATED_TO_NOTHING = '{"changes": {"image_na'

EXPLANATION_THEN_FENCE = """I'll switch the image to MinIO and expose the console port. MinIO \
serves the S3 API on 9000 and the console on 9001; the form has one port, so I chose the API.

```json
{"changes": {"image_name": "minio/minio:latest", "container_port": 9000,
  "command": "minio", "parameters": "[\\"server\\", \\"/data\\"]"},
 "reply": "MinIO on port 9000, serving /data.", "questions": ["Do you want the console on 9001?"]}
```"""

EXAMPLE_THEN_ANSWER = """The answer format is {"changes": {}, "reply": "", "questions": []}.
For your request:
{"changes": {"cpu": 2, "memory": "2G"}, "reply": "Doubled CPU and memory.", "questions": []}"""

EXAMPLE_FORM_THEN_ANSWER_FORM = """A form looks like {"app_name": "demo"}. Yours becomes:
{"app_name": "uptime", "image_name": "louislam/uptime-kuma:1", "container_port": 3001}"""

TWO_FENCES_BASH_THEN_JSON = """Run it locally with:
```bash
docker run -d -e MYSQL_ROOT_PASSWORD=${PASS} -p 3306:3306 mysql:8.0
```
The form:
```json
{"changes": {"image_name": "mysql:8.0", "container_port": 3306}, "reply": "MySQL 8.0.", \
"questions": []}
```"""

UNICODE_ESCAPES = (
    r'{"changes": {"memory": "1G"}, "reply": "\u5df2\u5c06\u5185\u5b58\u8c03\u6574\u4e3a 1G\u3002",'
    r' "questions": ["\u9700\u8981\u516c\u7f51\u8bbf\u95ee\u5417\uff1f"]}'
)

CRLF_WRAPPER = (
    '{\r\n  "changes": {\r\n    "instance": 2,\r\n    "cpu": 1,\r\n  },\r\n'
    '  "reply": "Two instances of one core each.",\r\n  "questions": []\r\n}\r\n'
)

QWEN_FENCE_AND_EXPLANATION = """```json
{
  "changes": {
    "image_name": "ghcr.io/open-webui/open-webui:main",
    "container_port": 8080,
    "public_access": true,
    "memory": "2G",
    "storage": [{"capacity": 5, "value": "/app/backend/data"}]
  },
  "reply": "已部署 Open WebUI，端口 8080，开启外网访问。",
  "questions": ["需要连接哪个 Ollama 地址？"]
}
```

说明：
- 镜像使用官方 `main` 标签；
- 数据保存在 `/app/backend/data`，避免重启后丢失。"""

CAPITALISED_KEYS_CHANGES_STRING = """{"Changes": "{\\"cpu\\": 1, \\"Memory\\": \\"1G\\"}",
 "Reply": "CPU 1, memory 1G.", "Questions": "Which region?"}"""

CHANGES_NULL_QUESTION_ITEMS = """{"changes": null, "reply": "I need a little more detail.",
 "questions": ["Which MySQL version?", 8, null, {"field": "storage"}, "  "]}"""

HYBRID_FORM_AND_REPLY = (
    '{"image_name": "gitea/gitea:1.22", "container_port": 3000, "reply": "Gitea on 3000."}'
)

STRAY_FIELD_BESIDE_CHANGES = '{"changes": {"cpu": 1}, "memory": "1G", "reply": "ok"}'

UNKNOWN_KEYS_KEPT = '{"changes": {"cpu": 1, "replicas": 2}, "reply": "", "questions": []}'

RAW_NEWLINE_IN_STRING = '{"changes": {"command": "sh"}, "reply": "Line one\nline two."}'

BOM_STRICT = '\ufeff{"changes": {"instance": 4}}'

APOLOGY = "I'm sorry, but I can't help with deploying that application."
ARRAY = '[{"changes": {"cpu": 1}}]'
FENCED_ARRAY = '```json\n[\n  {"cpu": 1},\n]\n```'
ERROR_OBJECT = '{"error": "I cannot access the internet to check the image."}'
SCALAR = '"{\\"cpu\\": 1}"'
CHANGES_NOT_OBJECT = '{"changes": ["cpu", "memory"], "reply": "Changed cpu and memory."}'
STRICT_SCHEMA_LIST = json.dumps(
    {
        "changes": [
            {"field": "cpu", "value": 0.5},
            {"field": "memory", "value": "512M"},
            {"field": "storage", "value": [{"capacity": 10, "value": "/data"}]},
        ],
        "reply": "已调低。",
        "questions": [],
    },
    ensure_ascii=False,
)
ONLY_IN_THINK = '<think>Use {"cpu": 2}.</think>Sorry, I cannot decide.'

CORPUS = [
    pytest.param(
        ORIGINAL_SIMPLE_DEPLOY,
        form(
            {
                "app_name": "hello-world",
                "image_name": "mysql",
                "instance": 1,
                "cpu": 1,
                "memory": "1G",
                "container_port": 3306,
                "public_access": False,
                "command": "",
                "parameters": "",
                "environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": "password"}],
                "configmap": None,
                "storage": [{"capacity": 10, "value": "/var/lib/mysql"}],
            }
        ),
        id="original-simple-deploy",
    ),
    pytest.param(ORIGINAL_FOLLOWUP, form({"cpu": 0.5, "memory": "512M"}), id="original-followup"),
    pytest.param(
        ORIGINAL_HALO,
        form(
            {
                "app_name": "halo",
                "image_name": "halohub/halo:2.5",
                "instance": 1,
                "cpu": 1,
                "memory": "512M",
                "container_port": 8090,
                "public_access": True,
                "command": "",
                "parameters": "",
                "environment": HALO_ENVIRONMENT,
                "configmap": None,
                "storage": None,
            }
        ),
        id="original-halo-pasted-docs",
    ),
    pytest.param(
        STRICT_WRAPPER_EN,
        wrapper(
            {"image_name": "redis:7.2", "container_port": 6379, "memory": "256M"},
            "Switched the image to redis:7.2 on port 6379 with 256M of memory.",
        ),
        id="strict-wrapper-english",
    ),
    pytest.param(
        STRICT_WRAPPER_ZH,
        wrapper(
            {
                "image_name": "mysql:8.0",
                "container_port": 3306,
                "memory": "1G",
                "storage": [{"capacity": 10, "value": "/var/lib/mysql"}],
            },
            "已将镜像改为 mysql:8.0，端口 3306，并为 /var/lib/mysql 配置了 10G 存储。",
            ["MySQL 的 root 密码要由你来设定吗？"],
        ),
        id="strict-wrapper-chinese",
    ),
    pytest.param(
        FENCED_JSON,
        wrapper(
            {"instance": 3, "public_access": True},
            "Scaled to 3 instances and opened public access.",
        ),
        id="fenced-json",
    ),
    pytest.param(
        FENCED_PLAIN,
        wrapper({"command": "npm", "parameters": '["run", "start"]'}, "Set the start command."),
        id="fenced-plain",
    ),
    pytest.param(
        PROSE_AROUND,
        wrapper(
            {"image_name": "nginx:1.27-alpine", "container_port": 80, "public_access": True},
            "Deployed nginx:1.27-alpine on port 80 with public access.",
        ),
        id="prose-around",
    ),
    pytest.param(
        TRAILING_COMMAS,
        wrapper(
            {
                "cpu": 2,
                "memory": "4G",
                "environment": [{"name": "JAVA_OPTS", "value": "-Xmx3g"}],
            },
            "Raised the JVM heap to 3g with 2 cores and 4G.",
        ),
        id="trailing-commas",
    ),
    pytest.param(
        SINGLE_QUOTES_PYTHON,
        wrapper(
            {"public_access": True, "command": None, "instance": 2},
            "Opened public access and scaled to 2.",
        ),
        id="single-quotes-python-literals",
    ),
    pytest.param(
        WITH_COMMENTS,
        wrapper({"cpu": 0.5, "memory": "128M"}, "Trimmed to 0.5 core and 128M."),
        id="comments",
    ),
    pytest.param(
        DEEPSEEK_R1_THINK,
        wrapper(
            {
                "app_name": "wordpress",
                "image_name": "wordpress:6.6-apache",
                "container_port": 80,
                "public_access": True,
                "storage": [{"capacity": 5, "value": "/var/www/html"}],
            },
            "已配置 WordPress 6.6，端口 80，并为 /var/www/html 挂载 5G 存储。",
            ["WordPress 使用的 MySQL 数据库地址、用户名和密码是什么？"],
        ),
        id="deepseek-r1-think-with-braces",
    ),
    pytest.param(
        UNCLOSED_THINK,
        wrapper(
            {"image_name": "grafana/grafana:11.2.0", "memory": "1G", "container_port": 3000},
            "Grafana 11.2 on port 3000 with 1G.",
        ),
        id="unclosed-think",
    ),
    pytest.param(
        THINK_OPENING_CUT_OFF,
        wrapper({"image_name": "postgres:16", "container_port": 5432}, "Postgres 16."),
        id="think-without-opening-tag",
    ),
    pytest.param(BARE_PARTIAL_FORM, form({"memory": "2G", "instance": 3}), id="bare-partial-form"),
    pytest.param(
        # the member cut in the middle ("ap" of the database name) is dropped, not completed
        TRUNCATED_WRAPPER,
        wrapper(
            {
                "image_name": "postgres:16-alpine",
                "container_port": 5432,
                "environment": [{"name": "POSTGRES_USER", "value": "app"}, {"name": "POSTGRES_DB"}],
            }
        ),
        id="truncated-wrapper",
    ),
    pytest.param(
        TRUNCATED_FENCE,
        wrapper(
            {
                "image_name": "louislam/uptime-kuma:1",
                "container_port": 3001,
                "storage": [{"capacity": 2}],
            }
        ),
        id="truncated-in-fence",
    ),
    pytest.param(TRUNCATED_TO_NOTHING, Rejected("cut off"), id="truncated-before-any-change"),
    pytest.param(
        EXPLANATION_THEN_FENCE,
        wrapper(
            {
                "image_name": "minio/minio:latest",
                "container_port": 9000,
                "command": "minio",
                "parameters": '["server", "/data"]',
            },
            "MinIO on port 9000, serving /data.",
            ["Do you want the console on 9001?"],
        ),
        id="explanation-then-fence",
    ),
    pytest.param(
        EXAMPLE_THEN_ANSWER,
        wrapper({"cpu": 2, "memory": "2G"}, "Doubled CPU and memory."),
        id="example-wrapper-then-answer",
    ),
    pytest.param(
        EXAMPLE_FORM_THEN_ANSWER_FORM,
        form(
            {
                "app_name": "uptime",
                "image_name": "louislam/uptime-kuma:1",
                "container_port": 3001,
            }
        ),
        id="example-form-then-answer-form",
    ),
    pytest.param(
        TWO_FENCES_BASH_THEN_JSON,
        wrapper({"image_name": "mysql:8.0", "container_port": 3306}, "MySQL 8.0."),
        id="bash-fence-then-json-fence",
    ),
    pytest.param(
        UNICODE_ESCAPES,
        wrapper({"memory": "1G"}, "已将内存调整为 1G。", ["需要公网访问吗？"]),
        id="unicode-escapes",
    ),
    pytest.param(
        CRLF_WRAPPER,
        wrapper({"instance": 2, "cpu": 1}, "Two instances of one core each."),
        id="crlf-line-endings",
    ),
    pytest.param(
        CRLF_WRAPPER.replace("1,\r\n  }", "1\r\n  }"),
        wrapper({"instance": 2, "cpu": 1}, "Two instances of one core each."),
        id="crlf-line-endings-strict",
    ),
    pytest.param(
        QWEN_FENCE_AND_EXPLANATION,
        wrapper(
            {
                "image_name": "ghcr.io/open-webui/open-webui:main",
                "container_port": 8080,
                "public_access": True,
                "memory": "2G",
                "storage": [{"capacity": 5, "value": "/app/backend/data"}],
            },
            "已部署 Open WebUI，端口 8080，开启外网访问。",
            ["需要连接哪个 Ollama 地址？"],
        ),
        id="qwen-fence-then-explanation",
    ),
    pytest.param(
        CAPITALISED_KEYS_CHANGES_STRING,
        wrapper({"cpu": 1, "memory": "1G"}, "CPU 1, memory 1G.", ["Which region?"]),
        id="capitalised-keys-changes-as-string",
    ),
    pytest.param(
        CHANGES_NULL_QUESTION_ITEMS,
        wrapper(
            {},
            "I need a little more detail.",
            ["Which MySQL version?", "8", '{"field": "storage"}'],
        ),
        id="changes-null-questions-not-strings",
    ),
    pytest.param(
        HYBRID_FORM_AND_REPLY,
        form({"image_name": "gitea/gitea:1.22", "container_port": 3000}, "Gitea on 3000."),
        id="form-fields-beside-reply",
    ),
    pytest.param(
        STRAY_FIELD_BESIDE_CHANGES,
        wrapper({"cpu": 1, "memory": "1G"}, "ok"),
        id="form-field-beside-changes",
    ),
    pytest.param(
        UNKNOWN_KEYS_KEPT,
        wrapper({"cpu": 1, "replicas": 2}),
        id="unknown-keys-left-to-the-caller",
    ),
    pytest.param(
        RAW_NEWLINE_IN_STRING,
        wrapper({"command": "sh"}, "Line one\nline two."),
        id="raw-newline-in-string",
    ),
    pytest.param(BOM_STRICT, wrapper({"instance": 4}), id="byte-order-mark"),
    pytest.param("{}", wrapper({}), id="empty-object-no-change"),
    pytest.param("```json\n{}\n```", wrapper({}), id="fenced-empty-object"),
    pytest.param("", Rejected("empty"), id="empty-text"),
    pytest.param(" \n\t ", Rejected("empty"), id="whitespace-only"),
    pytest.param(APOLOGY, Rejected("no JSON object"), id="apology"),
    pytest.param(ARRAY, Rejected("array"), id="array"),
    pytest.param(FENCED_ARRAY, Rejected("array"), id="fenced-array-trailing-comma"),
    pytest.param(ERROR_OBJECT, Rejected('neither "changes" nor any form field'), id="error"),
    pytest.param(SCALAR, Rejected("JSON string"), id="scalar-string"),
    pytest.param("42", Rejected("JSON number"), id="scalar-number"),
    pytest.param("null", Rejected("JSON null"), id="scalar-null"),
    pytest.param(
        CHANGES_NOT_OBJECT,
        Rejected('"changes" was a list whose items are not {"field"'),
        id="changes-list-of-names",
    ),
    pytest.param(
        STRICT_SCHEMA_LIST,
        ModelReply(
            {"cpu": 0.5, "memory": "512M", "storage": [{"capacity": 10, "value": "/data"}]},
            "已调低。",
            [],
            "wrapper",
        ),
        id="strict-schema-list-of-field-value",
    ),
    pytest.param('{"changes": "bigger"}', Rejected("holds no JSON object"), id="changes-word"),
    pytest.param(ONLY_IN_THINK, Rejected("inside its <think>"), id="json-only-in-think"),
]


@pytest.mark.parametrize(("text", "expected"), CORPUS)
def test_corpus(text: str, expected: ModelReply | Rejected) -> None:
    if isinstance(expected, Rejected):
        with pytest.raises(UnreadableReply, match=expected.says):
            parse_reply(text, FORM_FIELDS)
    else:
        assert parse_reply(text, FORM_FIELDS) == expected


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 25


def test_original_examples_match_the_literals() -> None:
    """The literals above are the raw outputs of the original service's examples
    (shared/original/examples.json, copied to tests/data/original_examples.json)."""
    path = Path(__file__).parent / "data" / "original_examples.json"
    raw = [e["raw_model_output"] for e in json.loads(path.read_text("utf-8"))["examples"]]
    assert raw == [ORIGINAL_SIMPLE_DEPLOY, ORIGINAL_FOLLOWUP, ORIGINAL_HALO]


# --- messages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [APOLOGY * 500, ERROR_OBJECT, '{"changes": 3}', "[" + "1," * 5000 + "1]", "x" * 65536],
)
def test_a_rejection_says_why_in_one_short_sentence(text: str) -> None:
    with pytest.raises(UnreadableReply) as caught:
        parse_reply(text, FORM_FIELDS)
    message = str(caught.value)
    assert len(message) < 200
    assert message.endswith(".")
    assert "\n" not in message


def test_a_rejection_names_only_a_few_keys() -> None:
    keys = {f"k{i}": i for i in range(50)}
    with pytest.raises(UnreadableReply, match=r'"k0", "k1", "k2", …\)\.$'):
        parse_reply(json.dumps(keys), FORM_FIELDS)


def test_text_that_is_not_a_string_is_unreadable() -> None:
    with pytest.raises(UnreadableReply):
        parse_reply(b'{"cpu": 1}', FORM_FIELDS)  # type: ignore[arg-type]


# --- choosing between objects -------------------------------------------------------------------


def test_a_wrapper_beats_a_form_object_with_more_fields() -> None:
    text = '{"app_name": "a", "image_name": "b", "cpu": 1} and {"changes": {"cpu": 2}}'
    assert parse_reply(text, FORM_FIELDS) == wrapper({"cpu": 2})


def test_the_object_with_most_form_fields_wins() -> None:
    text = 'Before: {"cpu": 1, "memory": "1G"}. After: {"cpu": 2}.'
    assert parse_reply(text, FORM_FIELDS) == form({"cpu": 1, "memory": "1G"})


def test_of_equal_objects_the_later_wins() -> None:
    text = 'Draft: {"cpu": 1}\nFinal: {"cpu": 2}'
    assert parse_reply(text, FORM_FIELDS) == form({"cpu": 2})


def test_a_complete_object_beats_a_cut_off_copy() -> None:
    text = '{"changes": {"cpu": 2}, "reply": "ok"}\n{"changes": {"cpu": 3}, "reply": "o'
    assert parse_reply(text, FORM_FIELDS) == wrapper({"cpu": 2}, "ok")


def test_objects_in_reasoning_are_ignored() -> None:
    text = '<think>{"changes": {"cpu": 8, "memory": "16G"}}</think>{"cpu": 1}'
    assert parse_reply(text, FORM_FIELDS) == form({"cpu": 1})


def test_an_object_missing_its_last_brace_inside_a_closed_fence_keeps_every_member() -> None:
    text = '```json\n{"changes": {"cpu": 1}, "reply": "Done."\n```\nHope this helps!'
    assert parse_reply(text, FORM_FIELDS) == wrapper({"cpu": 1}, "Done.")


def test_a_stray_brace_in_prose_does_not_hide_the_answer() -> None:
    text = 'Use a `{` to open an object. Answer: {"changes": {"cpu": 1}}'
    assert parse_reply(text, FORM_FIELDS) == wrapper({"cpu": 1})


def test_form_field_keys_in_another_case_get_their_own_spelling() -> None:
    assert parse_reply('{"Image_Name": "redis", "CPU": 1}', FORM_FIELDS) == form(
        {"image_name": "redis", "cpu": 1}
    )


def test_the_exact_spelling_wins_over_another_case() -> None:
    text = '{"changes": {"cpu": 1}, "Changes": {"cpu": 2}}'
    assert parse_reply(text, FORM_FIELDS) == wrapper({"cpu": 1})


def test_a_reply_given_as_a_list_is_joined() -> None:
    text = '{"changes": {}, "reply": ["Nothing to change.", "All set."]}'
    assert parse_reply(text, FORM_FIELDS) == wrapper({}, "Nothing to change. All set.")


def test_form_fields_are_any_collection() -> None:
    assert parse_reply('{"port": 80}', {"port"}) == form({"port": 80})


# --- the happy path and the cost of the fallback ------------------------------------------------


def test_strict_json_is_decoded_once_without_scanning(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_scan(*_: object) -> None:
        raise AssertionError("strict JSON must not be scanned")

    monkeypatch.setattr(reply_module, "_reply_found_in", no_scan)
    monkeypatch.setattr(reply_module.json_repair, "loads", no_scan)
    assert parse_reply(STRICT_WRAPPER_EN, FORM_FIELDS).changes["container_port"] == 6379


def _big_answer(size: int) -> str:
    items, answer = [], ""
    while len(answer) < size:
        items.append({"name": f"VAR_{len(items)}", "value": "x" * 40})
        answer = json.dumps({"changes": {"environment": items}, "reply": "ok"})
    return answer


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_big_answer(64 * 1024), id="strict"),
        pytest.param(_big_answer(64 * 1024)[:-1] + ",}", id="trailing-comma"),
        pytest.param("<think>" + "{x} " * 16000 + "</think>" + _big_answer(1000), id="reasoning"),
        pytest.param(_big_answer(64 * 1024)[:-300], id="cut-off"),
        pytest.param("{" * 65536, id="open-braces"),
        pytest.param('{"' * 32768, id="brace-quote"),
        pytest.param("{'" * 32768, id="brace-apostrophe"),
        pytest.param('{"a":' * 13000, id="nested-keys"),
        pytest.param("{a: 1} " * 9000, id="many-small-objects"),
        pytest.param("```\n{" * 10000, id="many-fences"),
        pytest.param("<think>" * 9000, id="many-think-tags"),
        pytest.param("/*{" * 20000, id="open-comments"),
        pytest.param('"\\' * 30000, id="escapes"),
        # json_repair alone takes seconds on these (quadratic); they must not reach it whole
        pytest.param("{" + "a:b," * 16383 + "}", id="bare-keys-and-words"),
        pytest.param('{"a": ' + "[b]," * 16382, id="lists-of-words"),
        pytest.param(("{'cpu': N'one 'x': 2}, 'reply': 'a', '`q" * 1600)[:65536], id="quote-soup"),
    ],
)
def test_a_64_kib_answer_never_reaches_json_repair_whole(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """json_repair is quadratic on inputs like these: it may only see small pieces (the time
    itself is measured in bench/, not asserted here)."""
    seen: list[int] = []
    real_loads = reply_module.json_repair.loads

    def spy(source: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(len(source))
        return real_loads(source, *args, **kwargs)

    monkeypatch.setattr(reply_module.json_repair, "loads", spy)
    with contextlib.suppress(UnreadableReply):
        parse_reply(text, FORM_FIELDS)
    assert all(size <= 8 * 1024 for size in seen)
    assert sum(seen) <= 16 * 1024


def test_a_big_answer_with_a_trailing_comma_is_read_whole() -> None:
    text = _big_answer(64 * 1024)
    assert parse_reply(text[:-1] + ",}", FORM_FIELDS) == parse_reply(text, FORM_FIELDS)


def test_a_big_answer_in_python_style_is_read_whole() -> None:
    text = _big_answer(64 * 1024)
    python_style = text.replace('"', "'").replace("'changes'", "changes")
    assert parse_reply(python_style, FORM_FIELDS) == parse_reply(text, FORM_FIELDS)


def test_json_repair_reads_what_the_clean_up_cannot() -> None:
    text = '{"cpu": 1 "memory": "1G" "reply": "it"s done"}'  # missing commas, a stray quote
    assert parse_reply(text, FORM_FIELDS).changes == {"cpu": 1, "memory": "1G"}


def test_a_big_answer_only_json_repair_could_read_is_refused_rather_than_slow() -> None:
    items = ", ".join(f'{{"name": "V{i}" "value": "x"}}' for i in range(400))  # no commas
    with pytest.raises(UnreadableReply):
        parse_reply('{"changes": {"environment": [' + items + "]}}", FORM_FIELDS)


# --- properties ---------------------------------------------------------------------------------

JSONISH = st.text(alphabet=st.sampled_from(list("{}[]\",:' \n\tabcu0123456789\\/*`<>thinkTNF#")))

FORM_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=20),
    st.lists(st.fixed_dictionaries({"name": st.text(max_size=8), "value": st.text(max_size=8)})),
)
FORM_OBJECTS = st.dictionaries(st.sampled_from(FORM_FIELDS), FORM_VALUES, min_size=1)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), JSONISH))
def test_any_text_gives_a_reply_or_unreadable(text: str) -> None:
    try:
        result = parse_reply(text, FORM_FIELDS)
    except UnreadableReply as exc:
        assert str(exc)
    else:
        assert isinstance(result, ModelReply)
        assert isinstance(result.changes, dict)
        assert isinstance(result.reply, str)
        assert all(isinstance(q, str) for q in result.questions)
        assert result.shape in ("wrapper", "form")


@settings(max_examples=200, deadline=None)
@given(FORM_OBJECTS, st.text(max_size=30), st.lists(st.text(max_size=10), max_size=3))
def test_a_strict_wrapper_reads_back_exactly(
    changes: dict[str, Any], reply: str, questions: list[str]
) -> None:
    text = json.dumps({"changes": changes, "reply": reply, "questions": questions})
    expected_questions = [q.strip() for q in questions if q.strip()]
    assert parse_reply(text, FORM_FIELDS) == wrapper(changes, reply.strip(), expected_questions)


@settings(max_examples=200, deadline=None)
@given(FORM_OBJECTS, st.sampled_from(["", "Here you go:\n", "```json\n", "<think>{x}</think>"]))
def test_a_form_object_reads_back_exactly_with_anything_before_it(
    obj: dict[str, Any], before: str
) -> None:
    text = before + json.dumps(obj, ensure_ascii=False, indent=1)
    assert parse_reply(text, FORM_FIELDS) == form(obj)


@settings(max_examples=200, deadline=None)
@given(FORM_OBJECTS, st.data())
def test_any_cut_of_an_answer_gives_a_reply_or_unreadable(
    changes: dict[str, Any], data: st.DataObject
) -> None:
    text = json.dumps({"changes": changes, "reply": "done", "questions": []})
    cut = text[: data.draw(st.integers(0, len(text)))]
    try:
        result = parse_reply(cut, FORM_FIELDS)
    except UnreadableReply:
        return
    assert set(result.changes) <= set(changes)


# --- a cut-off answer in the strict schema's list shape ----------------------------------------

_LIST_START = '{"changes":[{"field":"cpu","value":2},'


@pytest.mark.parametrize(
    "cut",
    [
        _LIST_START + '{"field":"container_port","value":54',
        _LIST_START + '{"field":"image_name","value":"postgr',
        _LIST_START + '{"field":"container_port","va',
        _LIST_START + '{"fie',
        _LIST_START,
        _LIST_START[:-1],
    ],
    ids=["mid-number", "mid-string", "mid-key", "mid-field", "after-comma", "after-item"],
)
def test_a_cut_off_list_of_changes_keeps_its_complete_items(cut: str) -> None:
    assert parse_reply(cut, FORM_FIELDS) == wrapper({"cpu": 2})


def test_a_cut_off_list_keeps_a_closed_last_item() -> None:
    cut = _LIST_START + '{"field":"container_port","value":5432}'
    assert parse_reply(cut, FORM_FIELDS) == wrapper({"cpu": 2, "container_port": 5432})


def test_a_complete_list_with_a_bad_item_is_still_unreadable() -> None:
    complete = _LIST_START + '{"field":"memory"}], "reply": "", "questions": []}'
    with pytest.raises(UnreadableReply, match="items are not"):
        parse_reply(complete, FORM_FIELDS)


def test_a_list_cut_before_its_first_item_is_cut_off() -> None:
    with pytest.raises(UnreadableReply, match="cut off"):
        parse_reply('{"changes":[{"field":"cpu"', FORM_FIELDS)
