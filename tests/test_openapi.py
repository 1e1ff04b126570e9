"""openapi.yaml: a valid OpenAPI document that says what the code does, and the running server
(functions-framework under gunicorn, as in production) answering schemathesis' generated
requests as the document says: no 500, every status documented, every body and header of
the documented shape, the documented content type.

The scripted model always answers a valid reply, so the answers come from the service's own
validation, normalisation and error mapping, not from model failures.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from aiops.api import ERROR_STATUS
from tests.fixtures.app import ROOT, LiveServer
from tests.fixtures.model_server import Scripted, ScriptedModel

DOCUMENT_PATH = ROOT / "openapi.yaml"
# The model names the test deployment allows (AIOPS_ALLOWED_MODELS, here the default model);
# a deployment's own list cannot be in the document, so the test pins `model` to it.
TEST_MODELS = ["gpt-4o-mini"]
# A valid reply that changes a few fields, so that answers carry changes, warnings (memory
# snapped, capacity read, a weak secret replaced) and a question, whatever the request's form.
VALID_REPLY = json.dumps(
    {
        "changes": {
            "memory": "500Mi",
            "environment": [{"name": "DB_PASSWORD", "value": "secret"}],
            "storage": [{"capacity": "10Gi", "value": "/data"}],
        },
        "reply": "More memory, a volume at /data and a database password.",
        "questions": ["Which database host should the app use?"],
    }
)
MAX_EXAMPLES = 60
# schemathesis' default statuses for a valid request (positive_data_acceptance).
POSITIVE_DATA_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


def load_document() -> dict[str, Any]:
    return yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))


def for_test_deployment(document: dict[str, Any]) -> dict[str, Any]:
    """The document with `model` limited to the models the test server allows."""
    pinned = copy.deepcopy(document)
    model = pinned["components"]["schemas"]["GenRequest"]["properties"]["model"]
    model["enum"] = [*TEST_MODELS, None]
    # Generated `params` follow the flat form's schema, so generated requests use the flat
    # dialect; the documented examples of the other dialects are sent as they are, and
    # tests/test_dialects*.py cover those dialects field by field.
    form = pinned["components"]["schemas"]["GenRequest"]["properties"]["form"]
    form["enum"] = ["aiops", None]
    return pinned


def fuzz_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": MAX_EXAMPLES},
            # The page's form is normalised leniently by design ("2" instances, "500m" cpu,
            # unknown keys kept), so data outside the documented types is often accepted:
            # negative cases must not be rejected, they must be answered as documented.
            "checks": {
                "negative_data_rejection": {"enabled": False},
                # Valid fields can add up to more than the body limit; that is the 413 the
                # document lists, not a rejection of valid data.
                "positive_data_acceptance": {
                    "expected-statuses": [*POSITIVE_DATA_ACCEPTED, "413"],
                },
            },
        }
    )


SCHEMA = schemathesis.openapi.from_dict(for_test_deployment(load_document()), config=fuzz_config())


# --- the document ----------------------------------------------------------------------------


def test_the_document_is_valid_openapi() -> None:
    validate(load_document())


def documented_codes(document: dict[str, Any]) -> dict[str, set[int]]:
    """code → the statuses whose documented answer may carry it."""
    codes: dict[str, set[int]] = {}
    responses = document["components"]["responses"]
    statuses = {
        ref["$ref"].rsplit("/", 1)[1]: int(status)
        for status, ref in document["paths"]["/gen"]["post"]["responses"].items()
    }
    statuses |= {"NotFound": 404, "MethodNotAllowed": 405}
    for name, status in statuses.items():
        schema = responses[name]["content"]["application/json"]["schema"]
        narrowed = schema.get("allOf", [{}, {}])[1].get("properties", {}).get("code", {})
        for code in narrowed.get("enum", [narrowed["const"]] if "const" in narrowed else []):
            codes.setdefault(code, set()).add(status)
    return codes


def test_every_error_code_is_documented_with_its_status() -> None:
    document = load_document()
    enum = document["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
    assert set(enum) == set(ERROR_STATUS)
    assert documented_codes(document) == {code: {status} for code, status in ERROR_STATUS.items()}


def test_post_root_is_the_same_operation_as_post_gen() -> None:
    paths = load_document()["paths"]
    gen, root = paths["/gen"]["post"], paths["/"]["post"]
    for part in ("requestBody", "responses", "security", "parameters"):
        assert root[part] == gen[part], part


def test_the_request_fields_are_the_api_models_fields() -> None:
    from aiops.api import GenAnswer, GenRequest
    from aiops.form import FIELDS

    schemas = load_document()["components"]["schemas"]
    assert set(schemas["GenRequest"]["properties"]) == set(GenRequest.model_fields)
    assert set(schemas["GenAnswer"]["properties"]) == set(GenAnswer.model_fields)
    assert tuple(schemas["Params"]["properties"]) == FIELDS
    assert tuple(schemas["Form"]["properties"]) == FIELDS


# --- the running server against the document ------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(
    _model_server: ScriptedModel, shared_live_server: LiveServer
) -> Iterator[LiveServer]:
    """The shared real server (default settings), its model always answering a valid reply."""
    _model_server.reset()
    _model_server.responder = lambda body: Scripted(content=VALID_REPLY)
    yield shared_live_server.since_now()
    _model_server.reset()


# Undeclared headers schemathesis may invent that gunicorn answers itself, before our code
# (README "Secrets and limits": its own 417 for an Expect it cannot meet, 400 for a framing it
# refuses): not the service's answers, so not the document's.
SERVER_OWN_HEADERS = frozenset({"expect", "transfer-encoding"})


@SCHEMA.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_server_answers_as_documented(case: Any, fuzz_server: LiveServer) -> None:
    for name in [n for n in case.headers or {} if n.lower() in SERVER_OWN_HEADERS]:
        del case.headers[name]
    response = case.call_and_validate(base_url=fuzz_server.url, timeout=10)
    if response.status_code == 200 and case.method == "POST":
        dialect = case.body.get("form") if isinstance(case.body, dict) else None
        assert_the_form_is_complete_and_valid(response.json(), dialect)


def form_validator(name: str = "Form") -> Draft202012Validator:
    """A validator of one of the document's schemas (its references resolved in the document)."""
    document = load_document()
    registry: Registry = Registry().with_resource(
        "urn:aiops:openapi", Resource(contents=document, specification=DRAFT202012)
    )
    schema = {"$ref": f"urn:aiops:openapi#/components/schemas/{name}"}
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


FORM_VALIDATOR = form_validator()
# The answer's form in each dialect (the request's `form`)
FORM_VALIDATORS = {
    None: FORM_VALIDATOR,
    "": FORM_VALIDATOR,
    "aiops": FORM_VALIDATOR,
    "launchpad": form_validator("LaunchpadForm"),
    "sealos-v2alpha": form_validator("SealosV2alphaApp"),
}


def strict_json(text: str) -> Any:
    """`text` parsed as JSON.parse would: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def assert_the_form_is_complete_and_valid(answer: dict[str, Any], dialect: Any = None) -> None:
    """GenParamsStr is strict JSON of a valid, complete form; Changes are values it holds."""
    form = strict_json(answer["GenParamsStr"])
    FORM_VALIDATORS[dialect].validate(form)
    for name, value in answer["Changes"].items():
        assert form[name] == value, name


# --- the rules the document and the code must both say (issue 11) -------------------------


def test_the_documents_request_rules_are_the_codes() -> None:
    from aiops.api import VISIBLE_PATTERN
    from aiops.routes import KEY_MAX_CHARS

    fields = load_document()["components"]["schemas"]["GenRequest"]["properties"]
    assert fields["user_input"]["pattern"] == VISIBLE_PATTERN
    assert fields["openai_token"]["maxLength"] == KEY_MAX_CHARS


def request_validator() -> Draft202012Validator:
    document = load_document()
    registry: Registry = Registry().with_resource(
        "urn:aiops:openapi", Resource(contents=document, specification=DRAFT202012)
    )
    schema = {"$ref": "urn:aiops:openapi#/components/schemas/GenRequest"}
    return Draft202012Validator(schema, registry=registry)


START = {"app_name": "hello-world", "image_name": "nginx", "cpu": 1, "memory": "64M"}
# (field, value, valid): what the document and the server must agree on.
REQUEST_RULES = [
    ("user_input", "more memory", True),
    ("user_input", "  中文  ", True),
    ("user_input", "x\u200b", True),
    ("user_input", "\U0001f600", True),  # outside the BMP: visible
    ("user_input", " \t\n", False),
    ("user_input", "\ufeff", False),
    ("user_input", "\u200b\u200c\u200d", False),
    ("user_input", "\u2060\u00ad\u034f", False),
    ("user_input", "\u200e\u202e\u061c", False),
    ("user_input", "\u3164\u115f\uffa0\u2800", False),
    ("user_input", "\ufe0f\u180e\x00\x7f", False),
    ("user_input", "\u3000\u00a0\u2028\x85\x1c", False),
    ("openai_token", "sk-test-" + "a" * (4096 - 8), True),
    ("openai_token", "sk-test-" + "a" * (4097 - 8), False),
    ("openai_token", "sk-test x", False),
]


@pytest.mark.parametrize(("name", "value", "valid"), REQUEST_RULES)
def test_the_document_and_the_server_agree_on_request_rules(
    fuzz_server: LiveServer, name: str, value: str, valid: bool
) -> None:
    payload = {"user_input": "more memory", "openai_token": "sk-test-rules-0000", "params": START}
    payload[name] = value
    assert request_validator().is_valid(payload) is valid
    request = urllib.request.Request(
        fuzz_server.url + "/gen",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status, body = answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        status, body = error.code, json.loads(error.read())
    if valid:
        assert status == 200, body
    else:
        assert (status, body["code"], body["field"]) == (400, "invalid_request", name), body
