"""The form declared once (README "Layout"): the prompt's field lists and the strict answer
schemas are pinned byte for byte (the bench's token figures and providers' prompt caches rely on
them), and openapi.yaml's flat form agrees with the table of fields."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from aiops import prompt, rich
from aiops.form import Limits, default_form

SMALL = Limits(
    cpu_choices=(0.5, 1),
    memory_choices=("1G", "2G"),
    max_instances=5,
    max_storage_gi=7,
    app_name_max=12,
)


def digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("made", "expected"),
    [
        (
            lambda: prompt.instructions(Limits()),
            "6789913fbd66e85b2c791aeb259566066006f4e400145e08ec7397a4500d21cd",
        ),
        (
            lambda: prompt.rich_instructions(Limits()),
            "f4b2460d38b0d1b7c7090ab0094752466ebcf792dd470d511d8e4b4f300390f0",
        ),
        (
            lambda: prompt.answer_schema(Limits()),
            "e440f81221d4b3504d9e8178b37f86712535882871f23fa1cd5b2c27867d8384",
        ),
        (
            lambda: prompt.rich_answer_schema(Limits()),
            "bc4dab7858f8e4ed69293a1a7f7a532149eb2a4981e2b75227e65a2136e0a336",
        ),
        (
            lambda: prompt.instructions(SMALL),
            "831faf3dd66caa43288a847de58f50ae5f34238911d78a2928e6701fae79d685",
        ),
        (
            lambda: prompt.rich_instructions(SMALL),
            "1ae83790d4a9e531a27d378a7499efc94c5adf4d97dc5f4df3f011e69016d576",
        ),
        (default_form, "55e398e03fd04a70e2481848f484622b427d6640458b11e3a070cd5b8abe77ff"),
        (rich.default_form, "f0501239b80db344f20da9f2545c9ed1ba8d3f6b31eea7340cfbc4ccbdad30d0"),
    ],
    ids=[
        "instructions",
        "rich_instructions",
        "answer_schema",
        "rich_answer_schema",
        "instructions_small_limits",
        "rich_instructions_small_limits",
        "default_form",
        "rich_default_form",
    ],
)
def test_the_prompt_and_schemas_are_byte_identical(made: Any, expected: str) -> None:
    assert digest(made()) == expected


def test_the_rich_answer_names_each_field_once() -> None:
    # Before the table the rich enum listed "ports" twice; that was the only byte that changed.
    enum = prompt.rich_answer_schema(Limits())["properties"]["changes"]["items"]["properties"]
    names = enum["field"]["enum"]
    assert names == list(rich.FIELDS)
    assert len(names) == len(set(names))


def test_the_system_message_of_a_request_is_the_static_instructions() -> None:
    messages = prompt.build_messages(limits=Limits(), form=default_form(), user_input="mysql")
    assert digest(messages[0]["content"]) == digest(prompt.instructions(Limits()))
