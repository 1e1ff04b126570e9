"""Properties of `normalise` for any JSON value: complete, idempotent, strict JSON, no raising."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aiops.form import FIELDS, Limits, Normalised, dumps_form, normalise

FAST = settings(max_examples=300, deadline=None)

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Not JSON, but a caller may still hand them over: normalise must not raise on them either.
odd_leaves = json_leaves | st.floats() | st.tuples(json_leaves)
odd_values = st.recursive(
    odd_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

env_names = st.from_regex(r"[-._a-zA-Z][-._a-zA-Z0-9]{0,10}", fullmatch=True) | st.text(max_size=5)
paths = st.from_regex(r"/[a-z_/][a-z0-9_/.-]{0,10}[a-z_/]", fullmatch=True) | st.text(max_size=6)
sizes = st.builds(
    "{}{}".format,
    st.integers(-1, 70_000) | st.floats(0, 70_000).map(lambda x: round(x, 2)),
    st.sampled_from(["", "M", "Mi", "MB", "G", "Gi", "GB", "T", "Ti", "k", "x"]),
)

# Values close to valid ones, so that the normalising paths (not only the errors) are explored.
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "app_name": st.text(max_size=40) | st.from_regex(r"[a-zA-Z0-9 ._-]{1,40}", fullmatch=True),
    "image_name": st.from_regex(
        r"(docker (pull|run -d -p 80:80) )?([a-z0-9.]{1,8}(:[0-9]{1,4})?/)?"
        r"[A-Za-z0-9]{1,8}(/[a-z0-9_-]{1,5})?(:[A-Za-z0-9._-]{1,6})?",
        fullmatch=True,
    ),
    "instance": st.integers(-5, 50)
    | st.floats(-5, 50)
    | st.sampled_from(
        ["两个", "2个", "两个实例", "三", "十", "二十五", "3 replicas", "2.0", "a few"]
    ),
    "cpu": st.integers(-2, 20)
    | st.floats(-1, 20)
    | st.sampled_from(["500m", "300m", "2核", "半核", "0.5核", "1 core", "2 vCPU", "1C", "lots"]),
    "memory": st.integers(-10, 100_000) | st.floats(0, 100_000) | sizes,
    "container_port": st.integers(-10, 70_000) | st.integers(-10, 70_000).map(str),
    "public_access": st.booleans()
    | st.sampled_from(["true", "yes", "off", "是", "关闭", "", "maybe", 0, 1, 2]),
    "command": st.text(max_size=20) | st.lists(st.text(max_size=8) | st.integers(), max_size=4),
    "parameters": st.text(max_size=20) | st.lists(st.text(max_size=8) | st.floats(), max_size=4),
    "environment": st.lists(
        st.fixed_dictionaries({"name": env_names, "value": json_leaves}), max_size=6
    )
    | st.dictionaries(env_names, json_leaves, max_size=6)
    | st.lists(st.tuples(env_names, st.text(max_size=8)), max_size=6).map(
        lambda pairs: "\n".join(f"{name}={value}" for name, value in pairs)
    ),
    "configmap": st.lists(
        st.fixed_dictionaries(
            {"file_path": paths, "file_content": st.text(max_size=20) | st.none()}
        ),
        max_size=5,
    )
    | st.none(),
    "storage": st.lists(
        st.fixed_dictionaries(
            {"capacity": st.integers(-5, 40) | st.floats(0, 40) | sizes, "value": paths}
        ),
        max_size=5,
    )
    | st.none(),
}

random_forms = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values)
plausible_forms = st.fixed_dictionaries(
    {}, optional={name: PLAUSIBLE[name] | json_values for name in FIELDS}
).flatmap(
    lambda fields: st.dictionaries(st.text(max_size=8), json_values, max_size=3).map(
        lambda extra: {**extra, **fields}
    )
)
forms = random_forms | plausible_forms

limits = st.builds(
    Limits,
    cpu_choices=st.lists(
        st.sampled_from([0.1, 0.2, 0.25, 0.5, 1, 1.5, 2, 3, 4, 8, 16]), min_size=1, unique=True
    ).map(tuple),
    memory_choices=st.lists(
        st.sampled_from(["64M", "100M", "256M", "0.5G", "1G", "1536M", "2G", "16G", "32G"]),
        min_size=1,
        unique=True,
    ).map(tuple),
    max_instances=st.integers(1, 30),
    max_storage_gi=st.integers(1, 100),
    app_name_max=st.integers(1, 63),
    max_env=st.integers(0, 8),
    max_configmap=st.integers(0, 6),
    max_storage_items=st.integers(0, 6),
    max_text_chars=st.integers(0, 30),
)


def field_of(notice_field: str) -> str:
    """The top-level field a notice is about: `environment.A` and `storage[1].value` → the list."""
    return re.split(r"[.\[]", notice_field, maxsplit=1)[0]


def assert_complete(result: Normalised, values: dict[str, Any]) -> None:
    assert isinstance(result, Normalised)
    unknown = [key for key in values if key not in FIELDS]
    assert list(result.form) == [*FIELDS, *unknown]
    assert all(result.form[key] is values[key] for key in unknown)
    assert {field_of(notice.field) for notice in result.errors} <= set(FIELDS)


@FAST
@given(forms)
def test_normalise_gives_a_complete_form(values: dict[str, Any]) -> None:
    assert_complete(normalise(values), values)


@FAST
@given(forms)
def test_normalised_form_normalises_to_itself(values: dict[str, Any]) -> None:
    form = normalise(values).form
    again = normalise(form)
    assert again.errors == []
    assert dumps_form(again.form) == dumps_form(form)


@FAST
@given(forms, limits)
def test_normalised_form_normalises_to_itself_under_any_limits(
    values: dict[str, Any], limits: Limits
) -> None:
    form = normalise(values, limits).form
    again = normalise(form, limits)
    assert again.errors == []
    assert dumps_form(again.form) == dumps_form(form)


@FAST
@given(forms)
def test_dumps_form_is_strict_json(values: dict[str, Any]) -> None:
    form = normalise(values).form

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} is not strict JSON")

    assert json.loads(dumps_form(form), parse_constant=refuse) == form


@FAST
@given(plausible_forms, forms)
def test_fields_that_fail_or_are_missing_keep_their_previous_value(
    earlier: dict[str, Any], values: dict[str, Any]
) -> None:
    previous = normalise(earlier).form
    result = normalise(values, previous=previous)
    kept = {field_of(notice.field) for notice in result.errors} | (set(FIELDS) - set(values))
    for name in kept:
        assert result.form[name] == previous[name]


@FAST
@given(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), odd_values) | odd_values)
def test_normalise_never_raises(values: Any) -> None:
    result = normalise(values)
    assert list(result.form)[: len(FIELDS)] == list(FIELDS)
    assert all(isinstance(notice.message, str) and notice.message for notice in result.errors)
