"""Reading a provider's error body in any shape, and classifying it (aiops/provider_errors.py).
The end-to-end cases of each provider are in test_providers.py; these pin the reading itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiops.provider_errors import RETRY_AFTER_CAP_S, Failure, classify, retry_after_s, signals_of


def classified(status: int, body: Any) -> Failure:
    raw = body if isinstance(body, str) else json.dumps(body)
    return classify(status, signals_of(raw.encode()))


@pytest.mark.parametrize(
    ("body", "codes", "params", "said"),
    [
        ({"error": {"message": "Boom", "code": "X1", "param": "response_format"}},
         {"x1"}, {"response_format"}, "boom"),
        ({"error": {"message": "Boom", "code": 404, "type": "NotFoundError"}},
         {"404", "notfounderror"}, set(), "boom"),
        ({"error": "just text"}, set(), set(), "just text"),
        ({"code": 20012, "message": "Model does not exist.", "data": None},
         {"20012"}, set(), "model does not exist."),
        ({"detail": [{"loc": ["body", "response_format"], "msg": "bad"}]},
         set(), {"body", "response_format"}, "bad"),
        ([{"error": {"code": 429, "message": "exhausted"}}], {"429"}, set(), "exhausted"),
        ("plain text body", set(), set(), "plain text body"),
        ("", set(), set(), ""),
    ],
    ids=["envelope", "int-code", "error-string", "code-message-data", "detail-list", "array",
         "plain-text", "empty"],
)  # fmt: skip
def test_every_body_shape_is_read(body: Any, codes: set[str], params: set[str], said: str) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    signals = signals_of(raw.encode())
    assert signals.codes == codes and signals.params == params and said in signals.text


def test_a_deep_or_huge_body_is_read_within_bounds() -> None:
    deep = "[" * 5000 + "]" * 5000
    assert signals_of(deep.encode()).codes == set()
    huge = json.dumps({"error": {"message": "x" * 1_000_000, "code": "c"}})
    assert len(signals_of(huge.encode()).text) <= 4000


def test_bytes_that_are_not_utf8_are_read() -> None:
    assert classify(500, signals_of(b"\xff")) is Failure.UNAVAILABLE
    assert classify(400, signals_of(b"\xff\xfe quota exceeded")) is Failure.QUOTA


@pytest.mark.parametrize(
    ("status", "body", "failure"),
    [
        (413, "Payload Too Large", Failure.INPUT_TOO_LONG),
        (403, {"error": {"message": "Country, region, or territory not supported"}},
         Failure.REFUSED),
        (403, {"error": {"message": "Invalid API key"}}, Failure.INVALID_KEY),
        (400, {"error": {"message": "Your api key is invalid"}}, Failure.INVALID_KEY),
        (404, "Not Found", Failure.UNKNOWN_MODEL),
        (408, "Request Timeout", Failure.UNAVAILABLE),
        (529, "Overloaded", Failure.UNAVAILABLE),
        (422, {"error": {"message": "response_format is not supported"}},
         Failure.FORMAT_REJECTED),
        (500, {"error": {"message": "response_format broke us"}}, Failure.UNAVAILABLE),
        (400, {"error": {"message": "Invalid 'messages[1].content'"}}, Failure.REFUSED),
    ],
)  # fmt: skip
def test_classification_beyond_the_listed_providers(
    status: int, body: Any, failure: Failure
) -> None:
    assert classified(status, body) is failure


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "12"}, 12),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "1e400"}, None),
        ({"retry-after": "3600"}, RETRY_AFTER_CAP_S),
        ({"retry-after-ms": "250"}, 1),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),  # in the past
    ],
)
def test_retry_after_in_whole_seconds_capped(headers: dict[str, str], expected: int | None) -> None:
    assert retry_after_s(headers) == expected
