"""aiops.sizes: numbers and sizes as people write them, read once for the form, the settings,
the catalogue, the dialects and the eval."""

from __future__ import annotations

import math

import pytest

from aiops import sizes


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("2", 2),
        ("0.5", 0.5),
        ("两", 2),
        ("十二", 12),
        ("二十五", 25),
        ("两百五", 250),
        ("一百零五", 105),
        ("零", 0),
        ("two", 2),
        ("twelve", 12),
    ],
)
def test_numbers_in_digits_and_words(text: str, number: float) -> None:
    assert sizes.number(text) == number


@pytest.mark.parametrize("text", ["", "many", "零零", "十十", "1.2.3"])
def test_what_spells_no_number(text: str) -> None:
    assert sizes.number(text) is None


def test_a_json_number_is_real_and_a_boolean_is_not() -> None:
    assert sizes.real(3) == 3.0
    assert sizes.real(10**400) == math.inf
    assert sizes.real(True) is None
    assert sizes.real(math.nan) is None
    assert sizes.real("3") is None


@pytest.mark.parametrize(
    ("value", "unit", "mib"),
    [
        ("512M", "m", 512),
        ("512Mi", "m", 512),
        ("1.5G", "m", 1536),
        ("1GB", "m", 1024),
        ("２Ｇ", "m", 2048),
        (256, "m", 256),
        (10, "g", 10240),
        ("10Gi", "g", 10240),
        ("1024k", "m", 1),
        ("两G", "m", 2048),
    ],
)
def test_sizes_in_mebibytes(value: object, unit: str, mib: float) -> None:
    assert sizes.mebibytes(value, bare_unit=unit) == mib


def test_memory_labels() -> None:
    assert sizes.memory_mib("1G") == 1024
    assert sizes.memory_mib("lots") is None
    assert sizes.MEMORY_LABEL.fullmatch("512M")
    assert not sizes.MEMORY_LABEL.fullmatch("512Mi")
    assert not sizes.MEMORY_LABEL.fullmatch("0M")


def test_whole_numbers_are_written_as_ints() -> None:
    assert repr(sizes.whole_as_int(1.0)) == "1"
    assert repr(sizes.whole_as_int(0.5)) == "0.5"
