"""Warning codes and messages in the user's language (aiops/messages.py): the two tables agree,
every warning code is produced and rendered in English and Chinese through the service (the
scripted model over real HTTP), errors follow the same language rule, Accept-Language is read
with its q-values, and the README and openapi.yaml list exactly the code's warning codes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from aiops import messages
from aiops.messages import EN, WARNING_CODES, ZH, language, placeholders, prefers_chinese, text
from tests.fixtures.app import (
    FAKE_KEY,
    START_FORM,
    LiveServer,
    free_port,
    fresh_app,
)
from tests.fixtures.model_server import Scripted

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
FORM = {**START_FORM, "image_name": "nginx:1.27"}  # no warning of its own


# --- the tables ------------------------------------------------------------------------------


def test_both_tables_have_the_same_message_ids() -> None:
    assert sorted(EN) == sorted(ZH)


@pytest.mark.parametrize("message_id", sorted(EN))
def test_both_languages_take_the_same_parameters(message_id: str) -> None:
    assert placeholders(EN[message_id]) == placeholders(ZH[message_id])
    params = {name: f"<{name}>" for name in placeholders(EN[message_id])}
    for lang in messages.LANGUAGES:
        rendered = text(message_id, **params).render(lang)
        assert all(f"<{name}>" in rendered for name in params)
        assert "{" not in rendered.replace('{"', "").replace("{<", "")


# Only punctuation around parameters: the same words in both languages.
FRAMES = {
    "kind_null",
    "kind_other",
    "body_invalid",
    "field_invalid",
    "params_invalid",
    "body_value_problem",
}


@pytest.mark.parametrize("message_id", sorted(set(EN) - FRAMES))
def test_the_chinese_table_is_chinese(message_id: str) -> None:
    assert CJK.search(ZH[message_id]), ZH[message_id]
    assert not CJK.search(EN[message_id]), EN[message_id]


def test_parameters_that_are_texts_render_in_the_same_language() -> None:
    reason = text("cpu_not_cores", value='"lots"', rule=text("rule_choices", choices="1, 2"))
    kept = text("kept_previous_value", reason=reason)
    assert kept.render("en") == (
        'kept the previous value: cpu "lots" is not a number of cores; use one of 1, 2'
    )
    assert kept.render("zh") == '保留了原来的值：cpu "lots" 不是有效的核数；可选值：1, 2'


def test_an_unknown_message_id_fails_at_once() -> None:
    with pytest.raises(KeyError):
        text("no_such_message")


def test_a_user_value_with_braces_is_shown_as_it_is() -> None:
    assert text("gen_method", method="{x}").render("zh") == (
        "不允许 {x}；请向 /gen 发送 POST 请求和 JSON 请求体。"
    )


# --- the request's language ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "chinese"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", True),
        ("zh-TW", True),
        ("zh-Hans-CN", True),
        ("ZH", True),
        ("en-US,en;q=0.9,zh;q=0.8", False),
        ("en;q=0.5, zh-CN", True),
        ("zh;q=0.4, en;q=0.6", False),
        ("fr-FR, zh;q=0.3", True),  # of the languages we have, zh is ranked highest
        ("zh;q=0, en", False),  # q=0: not acceptable
        ("en, zh", False),
        ("zh, en", True),
        ("*", False),
        ("", False),
        (None, False),
        ("garbage;;q=x,,", False),
    ],
)
def test_accept_language_is_ranked_by_its_q_values(header: str | None, chinese: bool) -> None:
    assert prefers_chinese(header) is chinese


@pytest.mark.parametrize(
    ("user_input", "header", "lang"),
    [
        ("请帮我部署一个mysql", None, "zh"),
        ("把内存调到2G", "en-US", "zh"),
        ("deploy mysql", None, "en"),
        ("deploy mysql", "zh-CN,zh;q=0.9", "zh"),
        ("deploy mysql", "en-GB,en;q=0.9,zh;q=0.8", "en"),
        (None, "zh", "zh"),
        (None, None, "en"),
    ],
)
def test_the_language_of_an_answer(user_input: str | None, header: str | None, lang: str) -> None:
    assert language(user_input, header) == lang


# --- every warning code, in both languages, through the service ------------------------------


@dataclass(frozen=True)
class Case:
    """A request that makes the service give `code` on `field`, with a piece of each text."""

    code: str
    field: str
    changes: dict[str, Any]
    en: str
    zh: str
    params: dict[str, Any] = field(default_factory=dict)
    second_answer: dict[str, Any] | None = None  # the answer to the re-ask
    pasted_key: bool = False
    store_down: bool = False
    finish_reason: str = "stop"  # "length": the answer was cut off by the token limit


CASES = [
    Case("rounded_up", "cpu", {"cpu": 0.3}, "cpu 0.3 rounded up to 0.5", "已向上取整为 0.5"),
    Case("clamped", "instance", {"instance": 50}, "out of range; set to 20", "超出范围，已设为 20"),
    Case("rewritten", "app_name", {"app_name": "My App"}, 'became "my-app"', '已改为 "my-app"'),
    Case(
        "docker_command_image",
        "image_name",
        {"image_name": "docker run -d -p 80:80 nginx:1.27"},
        "only the image of a docker command is kept",
        "docker 命令只保留镜像",
    ),
    Case("no_version_tag", "image_name", {"image_name": "httpd"}, "no version tag", "没有版本标签"),
    Case(
        "duplicate_replaced",
        "environment.A",
        {"environment": ["A=1", "A=2"]},
        "is set twice; the last value is kept",
        "设置了两次，保留最后一个值",
    ),
    Case(
        "unknown_field_ignored",
        "replicas",
        {"replicas": 3},
        "a field the form does not have; ignored",
        "表单中没有的字段，已忽略",
    ),
    Case(
        "kept_previous_value",
        "cpu",
        {"cpu": "lots"},
        'kept the previous value: cpu "lots" is not a number of cores',
        '保留了原来的值：cpu "lots" 不是有效的核数',
        second_answer={"cpu": "lots"},
    ),
    Case(
        "generated_secret",
        "environment.MYSQL_ROOT_PASSWORD",
        {
            "image_name": "mysql:8.4",
            "memory": "1G",
            "container_port": 3306,
            "environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": "password"}],
            "storage": [{"capacity": 10, "value": "/var/lib/mysql"}],
        },
        "replaced it with a random 24-character value",
        "已替换为 24 位的随机值",
    ),
    Case(
        "key_in_request",
        "user_input",
        {"cpu": 1},
        "your API key is in the request",
        "请求中含有你的 API 密钥",
        pasted_key=True,
    ),
    Case(
        "store_unavailable",
        "MessageId",
        {"cpu": 2},
        "this turn was not saved",
        "本轮没有保存",
        store_down=True,
    ),
    Case(
        "catalog_port_mismatch",
        "container_port",
        {"image_name": "redis:7.4", "container_port": 80},
        "redis listens on 6379/tcp Redis clients, not on 80",
        "redis 监听的是 6379/tcp Redis clients，不是 80",
    ),
    Case(
        "catalog_storage_missing",
        "storage",
        {"image_name": "redis:7.4", "container_port": 6379},
        "redis keeps its data in /data",
        "redis 的数据保存在 /data",
    ),
    Case(
        "catalog_env_missing",
        "environment.MYSQL_ROOT_PASSWORD",
        {"image_name": "mysql:8.4", "memory": "1G", "container_port": 3306},
        "mysql needs MYSQL_ROOT_PASSWORD",
        "mysql 需要 MYSQL_ROOT_PASSWORD",
    ),
    Case(
        "catalog_memory_low",
        "memory",
        {"image_name": "mysql:8.4", "memory": "256M", "container_port": 3306},
        "mysql needs at least 512M of memory; 256M",
        "mysql 至少需要 512M 内存；256M",
    ),
    Case(
        "catalog_tcp_public",
        "public_access",
        {"image_name": "redis:7.4", "container_port": 6379, "public_access": True},
        "port 6379 of redis speaks plain TCP",
        "redis 的端口 6379 使用纯 TCP",
    ),
    Case(
        "misplaced_secret",
        "command",
        {"command": "echo Hx7qP2vLm9Rt4wZk"},  # the page's secret, moved into another field
        "kept the previous value: the model's value held a secret placeholder",
        "保留了原值",
        params={"environment": [{"name": "DB_PASSWORD", "value": "Hx7qP2vLm9Rt4wZk"}]},
    ),
    Case(
        "answer_cut_off",
        "Changes",
        {"cpu": 2},
        "cut off by its token limit",
        "被截断",
        finish_reason="length",
    ),
]
USER_INPUT = {"en": "please adjust the form", "zh": "请帮我调整表单"}


def test_the_table_covers_every_warning_code() -> None:
    assert sorted(case.code for case in CASES) == sorted(WARNING_CODES)


def answer(changes: dict[str, Any]) -> str:
    return json.dumps({"changes": changes, "reply": "ok", "questions": []})


def body(case: Case, lang: str) -> dict[str, Any]:
    user_input = USER_INPUT[lang] + (f" {FAKE_KEY}" if case.pasted_key else "")
    return {"user_input": user_input, "openai_token": FAKE_KEY, "params": {**FORM, **case.params}}


@pytest.fixture
def dead_store(monkeypatch: pytest.MonkeyPatch, dead_mongo_uri: str) -> None:
    monkeypatch.setenv("MONGODB_URI", dead_mongo_uri)
    fresh_app()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("case", CASES, ids=[case.code for case in CASES])
def test_every_warning_code_in_both_languages(
    case: Case, lang: str, client: Any, model: Any, request: pytest.FixtureRequest
) -> None:
    if case.store_down:
        request.getfixturevalue("dead_store")
    model.reply(Scripted(content=answer(case.changes), finish_reason=case.finish_reason))
    if case.second_answer is not None:
        model.reply(answer(case.second_answer))
    response = client.post("/gen", json=body(case, lang))
    assert response.status_code == 200, response.get_json()
    warnings = response.get_json()["Warnings"]
    given = [w for w in warnings if w["code"] == case.code and w["field"] == case.field]
    assert given, warnings
    message = given[0]["message"]
    assert (case.en if lang == "en" else case.zh) in message
    if lang == "zh":
        assert case.en not in message
    assert all(w["code"] in WARNING_CODES for w in warnings)


def test_the_codes_and_fields_are_the_same_in_both_languages(client: Any, model: Any) -> None:
    changes = {
        "cpu": 0.3,
        "instance": 50,
        "app_name": "My App",
        "image_name": "redis",
        "container_port": 80,
        "environment": ["A=1", "A=2"],
        "replicas": 3,
    }
    answers = {}
    for lang in ("en", "zh"):
        model.reply(answer(changes))
        response = client.post("/gen", json=body(CASES[0], lang))
        answers[lang] = response.get_json()["Warnings"]
    assert [(w["field"], w["code"]) for w in answers["en"]] == [
        (w["field"], w["code"]) for w in answers["zh"]
    ]
    assert len(answers["en"]) >= 7
    assert all(CJK.search(w["message"]) for w in answers["zh"])
    assert not any(CJK.search(w["message"]) for w in answers["en"])


def test_accept_language_turns_the_warnings_of_an_english_request_chinese(
    client: Any, model: Any
) -> None:
    model.reply(answer({"cpu": 0.3}))
    response = client.post(
        "/gen",
        json=body(CASES[0], "en"),
        headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"},
    )
    [warning] = response.get_json()["Warnings"]
    assert warning["code"] == "rounded_up"
    assert warning["message"] == "cpu 0.3 已向上取整为 0.5（可选值：0.1, 0.2, 0.5, 1, 2, 3, 4, 8）"


# --- errors ------------------------------------------------------------------------------------

KEYLESS = {"user_input": "请帮我部署一个mysql", "params": FORM}


@dataclass(frozen=True)
class ErrorCase:
    name: str
    status: int
    code: str
    en: str
    zh: str
    method: str = "POST"
    path: str = "/gen"
    payload: Any = None  # JSON, or bytes sent as they are
    chinese_body: bool = True  # whether the body itself says the language


ERROR_CASES = [
    ErrorCase(
        "missing key",
        401,
        "missing_token",
        "No API key: send openai_token",
        "缺少 API 密钥",
        payload=KEYLESS,
    ),
    ErrorCase(
        "empty input",
        400,
        "invalid_request",
        "user_input is empty (or only invisible characters): describe what to deploy or change",
        "user_input 为空",
        payload={"user_input": "  ", "params": FORM},
        chinese_body=False,
    ),
    ErrorCase(
        "missing params",
        400,
        "invalid_request",
        "params is required.",
        "缺少必填项 params。",
        payload={"user_input": "部署mysql"},
    ),
    ErrorCase(
        "params of the wrong type",
        400,
        "invalid_request",
        "params: Input should be a valid dictionary.",
        "params：必须是 JSON 对象。",
        payload={"user_input": "部署mysql", "params": []},
    ),
    ErrorCase(
        "a params value that cannot be read",
        400,
        "invalid_request",
        'params.cpu: cpu "lots" is not a number of cores',
        'params.cpu：cpu "lots" 不是有效的核数',
        payload={**KEYLESS, "openai_token": FAKE_KEY, "params": {**FORM, "cpu": "lots"}},
    ),
    ErrorCase(
        "a model not allowed",
        400,
        "invalid_request",
        "model 'gpt-x' is not allowed; use one of:",
        "不允许使用模型 'gpt-x'",
        payload={**KEYLESS, "openai_token": FAKE_KEY, "model": "gpt-x"},
    ),
    ErrorCase(
        "an unknown conversation",
        404,
        "conversation_not_found",
        "parent_message_id is unknown or expired",
        "parent_message_id 不存在或已过期",
        payload={**KEYLESS, "openai_token": FAKE_KEY, "parent_message_id": "nope"},
    ),
    ErrorCase(
        "a body that is no JSON",
        400,
        "invalid_request",
        "The body is not valid JSON",
        "请求体不是有效的 JSON",
        payload=b"{not json",
        chinese_body=False,
    ),
    ErrorCase(
        "a body that is no object",
        400,
        "invalid_request",
        "The body must be a JSON object.",
        "请求体必须是 JSON 对象。",
        payload=["部署"],
        chinese_body=False,
    ),
    ErrorCase(
        "an unknown path",
        404,
        "not_found",
        "No such endpoint '/nope'; POST to /gen.",
        "没有 '/nope' 这个接口",
        path="/nope",
        payload={},
        chinese_body=False,
    ),
    ErrorCase(
        "a GET",
        405,
        "method_not_allowed",
        "GET is not allowed; POST a JSON body to /gen.",
        "不允许 GET",
        method="GET",
        chinese_body=False,
    ),
    ErrorCase(
        "a POST to /healthz",
        405,
        "method_not_allowed",
        "POST is not allowed on /healthz; use GET.",
        "/healthz 不允许 POST",
        path="/healthz",
        payload={},
        chinese_body=False,
    ),
]


def send(client: Any, case: ErrorCase, headers: dict[str, str]) -> Any:
    data = case.payload
    if data is None:
        return client.open(case.path, method=case.method, headers=headers)
    raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return client.open(
        case.path,
        method=case.method,
        data=raw,
        headers={"Content-Type": "application/json", **headers},
    )


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case.name for case in ERROR_CASES])
def test_errors_in_both_languages(case: ErrorCase, client: Any, model: Any) -> None:
    english = send(client, case, {"Accept-Language": "en-US,en;q=0.9"})
    chinese = send(client, case, {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    for response in (english, chinese):
        assert response.status_code == case.status
        assert response.get_json()["code"] == case.code
    assert english.get_json()["field"] == chinese.get_json()["field"]
    assert chinese.get_json()["error"].find(case.zh) >= 0, chinese.get_json()
    if case.chinese_body:  # the Chinese user_input wins over an English Accept-Language
        assert case.zh in english.get_json()["error"]
    else:
        assert case.en in english.get_json()["error"]
    assert not model.requests  # none of these reached the model


def test_the_body_s_language_is_read_even_when_the_body_is_refused(client: Any) -> None:
    too_long = {"user_input": "部署" * 5000, "params": FORM, "openai_token": FAKE_KEY}
    response = client.post("/gen", json=too_long)
    assert response.status_code == 400
    assert response.get_json()["error"] == "user_input 有 10000 个字符，最多允许 8000 个。"


def test_an_english_error_stays_english_without_any_hint(client: Any) -> None:
    response = client.post("/gen", json={"user_input": "deploy mysql", "params": FORM})
    assert response.get_json() == {
        "error": "No API key: send openai_token in the body or an 'Authorization: Bearer <key>' "
        "header.",
        "code": "missing_token",
        "field": "openai_token",
    }


# --- through the real server (gunicorn, real HTTP) -------------------------------------------


@pytest.fixture
def server(shared_live_server: LiveServer) -> LiveServer:
    """The shared real server (default settings)."""
    return shared_live_server.since_now()


REPRESENTATIVE = ["rounded_up", "generated_secret", "catalog_port_mismatch", "kept_previous_value"]


@pytest.mark.parametrize("code", REPRESENTATIVE)
@pytest.mark.parametrize(
    ("user_input", "header", "lang"),
    [
        ("deploy it", {}, "en"),
        ("请部署", {}, "zh"),
        ("deploy it", {"Accept-Language": "zh-CN,zh;q=0.9"}, "zh"),
        ("deploy it", {"Accept-Language": "en;q=0.9,zh;q=0.8"}, "en"),
    ],
)
def test_warnings_over_real_http(
    code: str, user_input: str, header: dict[str, str], lang: str, server: LiveServer, model: Any
) -> None:
    case = next(case for case in CASES if case.code == code)
    model.reply(Scripted(content=answer(case.changes), finish_reason=case.finish_reason))
    if case.second_answer is not None:
        model.reply(answer(case.second_answer))
    payload = {"user_input": user_input, "openai_token": FAKE_KEY, "params": FORM}
    status, answered, _ = server.post(payload, header)
    assert status == 200, answered
    [message] = [w["message"] for w in answered["Warnings"] if w["code"] == code]
    assert (case.en if lang == "en" else case.zh) in message


def test_an_error_over_real_http_follows_accept_language(server: LiveServer) -> None:
    payload = {"user_input": "deploy mysql", "params": FORM}
    assert server.post(payload, {"Accept-Language": "zh"})[:2] == (
        401,
        {
            "error": "缺少 API 密钥：请在请求体中发送 openai_token，"
            "或使用 'Authorization: Bearer <key>' 请求头。",
            "code": "missing_token",
            "field": "openai_token",
        },
    )


# --- the lists in README.md and openapi.yaml ---------------------------------------------------


def readme_codes() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Warnings and messages", 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_the_readme_lists_the_warning_codes() -> None:
    assert readme_codes() == list(WARNING_CODES)


def test_openapi_lists_the_warning_codes() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    warning = spec["components"]["schemas"]["Warning"]
    assert warning["properties"]["code"]["enum"] == list(WARNING_CODES)
    assert "code" in warning["required"]


def test_the_lambda_entry_reads_accept_language_too(service_env: Any) -> None:
    from aiops import aws

    event = {
        "version": "2.0",
        "rawPath": "/gen",
        "headers": {"Accept-Language": "zh-CN,zh;q=0.9", "Content-Type": "application/json"},
        "requestContext": {"http": {"method": "POST"}, "stage": "$default"},
        "body": json.dumps({"user_input": "deploy mysql", "params": FORM}),
    }
    answer = aws.lambda_handler(event, None)
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"])["error"].startswith("缺少 API 密钥")


# --- the provider's failures, in both languages ----------------------------------------------

PROVIDER_FAILURES = [
    # (status the provider answers, its error, headers) → (status, code, a piece of EN, of ZH)
    (
        (401, "Incorrect API key provided", {}),
        (401, "invalid_token", "rejected the API key", "拒绝了这个 API 密钥"),
    ),
    (
        (429, "Rate limit reached", {"Retry-After": "7"}),
        (429, "rate_limited", "wait 7 s", "等待 7 秒"),
    ),
    (
        (503, "overloaded", {}),
        (502, "upstream_error", "failed (HTTP 503)", "服务商出错（HTTP 503）"),
    ),
]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(("given", "expected"), PROVIDER_FAILURES, ids=lambda c: str(c[0]))
def test_the_provider_failures_in_both_languages(
    given: tuple[int, str, dict[str, str]],
    expected: tuple[int, str, str, str],
    lang: str,
    client: Any,
    model: Any,
) -> None:
    status, message, headers = given
    for _ in range(3):  # the transport retry of a 5xx gets the same answer
        model.fail(status, message, headers=headers)
    response = client.post("/gen", json={**body(CASES[0], lang), "user_input": USER_INPUT[lang]})
    want_status, code, en, zh = expected
    assert response.status_code == want_status
    answer = response.get_json()
    assert answer["code"] == code
    assert (en if lang == "en" else zh) in answer["error"]
    if lang == "zh":
        assert en not in answer["error"]
    assert message not in answer["error"]  # the provider's own text is never passed on


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_unreachable_provider_in_both_languages(
    lang: str, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    monkeypatch.setenv("OPENAI_BASE_URL", closed)
    fresh_app()
    response = client.post("/gen", json={**body(CASES[0], lang), "user_input": USER_INPUT[lang]})
    assert response.status_code == 502
    answer = response.get_json()
    assert answer["code"] == "upstream_error"
    wanted = "connection refused" if lang == "en" else "连接被拒绝"
    assert wanted in answer["error"] and closed.split("/v1")[0] in answer["error"]
