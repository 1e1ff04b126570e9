"""aiops.bounds: the depth and number checks that run before any recursive walk."""

from __future__ import annotations

import json
import math

import pytest

from aiops.bounds import MAX_DEPTH, first_problem, valid_text


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


def test_a_form_deep_as_allowed_passes_and_one_more_level_does_not() -> None:
    assert first_problem(nested(MAX_DEPTH)) is None
    where, what = first_problem(nested(MAX_DEPTH + 1), "params") or ("", "")
    assert where == "params" + ".a" * MAX_DEPTH
    assert f"more than {MAX_DEPTH} levels" in str(what)


def test_any_depth_the_parser_accepts_is_checked_without_recursion() -> None:
    value: object = []
    for _ in range(200_000):
        value = [value]
    assert first_problem(value) is not None


@pytest.mark.parametrize("number", [math.inf, -math.inf, math.nan])
def test_non_finite_numbers_are_named_by_their_place(number: float) -> None:
    value = {"params": {"x": [1, {"y": 2.5}, {"z": number}]}}
    where, what = first_problem(value) or ("", "")
    assert (where, str(what)) == ("params.x[2].z", "is a number out of range; use a finite number")


def test_the_first_problem_in_reading_order_is_named() -> None:
    value = {"a": math.inf, "b": math.nan}
    assert first_problem(value)[0] == "a"  # type: ignore[index]


def test_finite_numbers_and_huge_integers_pass() -> None:
    assert first_problem({"a": 1e308, "b": -1e-320, "c": 10**400, "d": [True, None]}) is None


def test_a_long_path_is_shown_cut() -> None:
    value = {"k" * 500: math.inf}
    where, _ = first_problem(value) or ("", "")
    assert len(where) <= 121 and where.endswith("…")


def test_lone_surrogates_become_the_replacement_character() -> None:
    value = {"\ud800key": ["a\udfffb", {"c": "\ud83d"}], "ok": "😀"}
    assert valid_text(value) == {"\ufffdkey": ["a\ufffdb", {"c": "\ufffd"}], "ok": "😀"}
    json.dumps(valid_text(value), ensure_ascii=False).encode()  # now encodable
