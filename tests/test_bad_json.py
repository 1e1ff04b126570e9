"""A body that is no JSON (README "Warnings and messages"): the 400 says why and where, in the
request's language: the JSON decoder's English reasons are texts of ours, so a Chinese answer
has no English words in it."""

from __future__ import annotations

import json
import re

import pytest

from aiops.app import App
from aiops.routes import JSON_REASONS, Request, respond
from aiops.settings import Settings

BODIES = {
    b"": ("a value is missing", 1, 1),
    b"{not json": ("a property name in double quotes is missing", 1, 2),
    b'{"user_input" "x"}': ("a ':' is missing", 1, 15),
    b'{"user_input": "x" "params": {}}': ("a ',' is missing", 1, 20),
    b'{"user_input": "x': ("a string is not closed", 1, 16),
    b'{"user_input": "x"} {}': ("more follows the JSON value", 1, 21),
    b'{"user_input": "a\x01"}': ("a control character is inside a string", 1, 18),
    b'{"user_input": "\\q"}': ("a \\ escape is not valid", 1, 17),
    b'{"user_input": "\\u12"}': ("a \\ escape is not valid", 1, 18),
    b'{\n  "user_input": [1,]\n}': ("a value is missing", 2, 20),
}


def answer(body: bytes, language: str) -> tuple[int, dict[str, str]]:
    headers = {"content-type": "application/json", "accept-language": language}
    reply = respond(Request("POST", "/gen", headers, body), App.from_settings(Settings()))
    return reply.status, json.loads(reply.body)


@pytest.mark.parametrize("body", BODIES, ids=[b.decode(errors="replace") for b in BODIES])
def test_the_answer_says_why_and_where(body: bytes) -> None:
    reason, line, column = BODIES[body]
    status, english = answer(body, "en")
    assert status == 400 and english["code"] == "invalid_request"
    assert english["error"] == (
        f"The body is not valid JSON: {reason} (line {line}, column {column})."
    )
    status, chinese = answer(body, "zh-CN")
    assert status == 400
    assert chinese["error"].startswith("请求体不是有效的 JSON：")
    assert f"第 {line} 行，第 {column} 列" in chinese["error"]
    assert not re.search(r"[A-Za-z]", chinese["error"].replace("JSON", ""))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_constant_python_reads_is_named(constant: str) -> None:
    body = f'{{"user_input": {constant}}}'.encode()
    assert answer(body, "en")[1]["error"] == (
        f"The body is not valid JSON: {constant} is no JSON value."
    )
    assert answer(body, "zh")[1]["error"] == f"请求体不是有效的 JSON：{constant} 不是 JSON 的值。"


def test_a_number_of_too_many_digits_is_named_as_such() -> None:
    body = b'{"user_input": "x", "params": {"instance": ' + b"9" * 5000 + b"}}"
    status, english = answer(body, "en")
    assert status == 400
    assert english["error"] == "The body holds a number with too many digits; write it shorter."
    assert answer(body, "zh")[1]["error"] == "请求体中有位数过多的数字，请写短一些。"


def test_every_reason_of_this_python_s_decoder_is_a_text_of_ours() -> None:
    """Each sample body's decoder reason is in the table (a newer Python's new wording shows up
    here, not as English in a Chinese answer)."""
    for body in BODIES:
        try:
            json.loads(body)
        except json.JSONDecodeError as error:
            assert error.msg in JSON_REASONS, error.msg
