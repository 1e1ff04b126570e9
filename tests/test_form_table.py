"""The form declared once (README "Layout"): the prompt's field lists and the strict answer
schemas are pinned byte for byte (the bench's token figures and providers' prompt caches rely on
them), and openapi.yaml's flat form agrees with the table of fields."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from aiops import prompt, rich
from aiops.form import FIELDS, FORM, Limits, default_form
from tests.fixtures.app import ROOT

DOCUMENT = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
SCHEMAS = DOCUMENT["components"]["schemas"]

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


# --- openapi.yaml's flat form against the table ----------------------------------------------


def resolved(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its local `$ref`s (and those of its items and properties) replaced."""
    if "$ref" in schema:
        return resolved(SCHEMAS[schema["$ref"].rsplit("/", 1)[1]])
    schema = dict(schema)
    if "items" in schema:
        schema["items"] = resolved(schema["items"])
    if "properties" in schema:
        schema["properties"] = {k: resolved(v) for k, v in schema["properties"].items()}
    return schema


def within(documented: dict[str, Any], answered: dict[str, Any], where: str) -> None:
    """The documented form value is one the answer schema's value shape allows: the same type
    (an integer is a number) and, for lists of objects, the same properties of the same types."""
    kind, allowed = documented["type"], answered["type"]
    assert kind == allowed or (kind, allowed) == ("integer", "number"), (where, kind, allowed)
    if kind == "array":
        items, answered_items = documented["items"], answered["items"]
        assert list(items["properties"]) == list(answered_items["properties"]), where
        assert items["required"] == answered_items["required"], where
        for name, value in items["properties"].items():
            within(value, answered_items["properties"][name], f"{where}.{name}")


def test_the_documented_form_has_the_tables_fields_in_order() -> None:
    form = SCHEMAS["Form"]
    assert tuple(form["properties"]) == FIELDS
    assert tuple(form["required"]) == FIELDS
    assert tuple(SCHEMAS["Params"]["properties"]) == FIELDS


@pytest.mark.parametrize("field", FORM, ids=FIELDS)
def test_each_documented_field_has_the_shape_of_its_answer_schema(field: Any) -> None:
    documented = resolved(SCHEMAS["Form"]["properties"][field.name])
    within(documented, field.schema(Limits()), field.name)


def test_the_tables_defaults_are_a_documented_form() -> None:
    validator = Draft202012Validator(resolved(SCHEMAS["Form"]))
    assert list(validator.iter_errors(default_form())) == []
    assert default_form() is not default_form()  # each call a fresh form to edit
    assert default_form()["environment"] is not default_form()["environment"]


def test_the_documented_allowed_values_are_the_default_limits() -> None:
    limits, form = Limits(), resolved(SCHEMAS["Form"])["properties"]
    assert tuple(form["cpu"]["enum"]) == limits.cpu_choices
    assert tuple(form["memory"]["enum"]) == limits.memory_choices
    assert form["instance"]["maximum"] == limits.max_instances
    assert form["app_name"]["maxLength"] == limits.app_name_max
    assert form["environment"]["maxItems"] == limits.max_env
    assert form["configmap"]["maxItems"] == limits.max_configmap
    assert form["storage"]["maxItems"] == limits.max_storage_items
    assert form["storage"]["items"]["properties"]["capacity"]["maximum"] == limits.max_storage_gi


@pytest.mark.parametrize("field", FORM, ids=FIELDS)
def test_each_field_tells_the_model_its_own_line(field: Any) -> None:
    line = field.rule(Limits())
    assert line.startswith(f"- {field.name}: ") and line.endswith("\n")
    assert line in prompt.instructions(Limits())
