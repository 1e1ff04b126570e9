"""Numbers and sizes as people write them (README "Layout"), a leaf: it imports nothing of the
service.

Owns reading a number from a JSON value or from words (`2`, `0.5`, `两`, `十二`, `two`), a
memory or disk size in MiB (`512M`, `512Mi`, `1.5G`, `1GB`, a bare number in a given unit), the
labels a deployment may allow as memory choices (`512M`, `1G`), and writing whole numbers as
ints. aiops.form, aiops.settings, aiops.catalog, the dialects and the eval read sizes with it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# A memory choice as a deployment writes it (AIOPS_MEMORY_CHOICES): whole MiB or GiB.
MEMORY_LABEL = re.compile(r"[1-9][0-9]*[MG]")
_CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5}
_CHINESE_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CHINESE_ZEROS = frozenset("零〇")
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}
_ENGLISH_NUMBERS = {
    word: number
    for number, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ]
    )
}
_SIZE_WORDS = re.compile(r"(?P<number>.+?)\s*(?P<unit>[kmgt]i?b?)?")
_MIB_PER_UNIT = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def cleaned(text: str) -> str:
    """Text folded for parsing: full-width forms to ASCII (NFKC), trimmed, lower-case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def number(text: str) -> float | None:
    """The number a short cleaned text spells (`2`, `0.5`, `两`, `十二`, `two`), else None."""
    if DECIMAL.fullmatch(text):
        return float(text)
    spelled = _chinese_number(text)
    if spelled is None:
        spelled = _ENGLISH_NUMBERS.get(text)
    return None if spelled is None else float(spelled)


def _chinese_number(text: str) -> int | None:
    """The value of a Chinese numeral below 10000 (`三`, `十`, `二十五`, `一百零五`), else None."""
    if text and all(char in _CHINESE_ZEROS for char in text):
        return 0 if len(text) == 1 else None
    total, digit, unit, after_unit = 0, None, 10_000, False
    for char in text:
        if char in _CHINESE_ZEROS and digit is None:
            after_unit = False
        elif char in _CHINESE_DIGITS and digit is None:
            digit = _CHINESE_DIGITS[char]
        elif char in _CHINESE_UNITS and _CHINESE_UNITS[char] < unit:
            unit = _CHINESE_UNITS[char]
            total += (1 if digit is None else digit) * unit
            digit, after_unit = None, True
        else:
            return None
    if digit is None:
        return total or None
    # A digit right after 百 or 千 counts in the next unit down: 两百五 is 250, 一百零五 is 105.
    return total + digit * (unit // 10 if after_unit and unit >= 100 else 1)


def real(value: Any) -> float | None:
    """A JSON number as a float (huge integers become infinite), else None; booleans are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def whole_as_int(number: float) -> float:
    """A whole number as an int (`1`, not `1.0`); others as floats."""
    number = float(number)
    return int(number) if number.is_integer() else number


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def mebibytes(value: Any, bare_unit: str) -> float | None:
    """A size in MiB from a number (in `bare_unit`) or text (`512Mi`, `1.5G`, `1GB`), else None."""
    given = real(value)
    if given is not None:
        return given * _MIB_PER_UNIT[bare_unit]
    if not isinstance(value, str):
        return None
    words = _SIZE_WORDS.fullmatch(cleaned(value))
    amount = number(words.group("number")) if words else None
    if words is None or amount is None:
        return None
    return amount * _MIB_PER_UNIT[(words.group("unit") or bare_unit)[0]]


def memory_mib(label: str) -> float | None:
    """The size in MiB of a memory value such as `512M` or `1G` (None if unreadable)."""
    return mebibytes(label, bare_unit="m")
