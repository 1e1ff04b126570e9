"""What any JSON value the service takes in (the request body, the model's answer) must be
before the service walks it: nested at most `MAX_DEPTH` levels, no number out of range, and
(for the model's answer, whose text the service cannot refuse) no lone surrogate.

The check is iterative, so it survives any depth the JSON parser accepts; every later walk
(masking, key removal, normalisation, `dumps`) is recursive and safe within `MAX_DEPTH`.
README "Secrets and limits" says the same.
"""

from __future__ import annotations

import math
import re
from typing import Any

from aiops.messages import Text, text

# A form is 4 levels deep (params → environment → item → value); unknown keys get room to spare.
MAX_DEPTH = 32
_SHOWN_PATH_CHARS = 120
# In a Python string every surrogate is a lone one (JSON's "\ud800"): no text, cannot be encoded.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _joined(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _shown(path: str) -> str:
    return path if len(path) <= _SHOWN_PATH_CHARS else path[:_SHOWN_PATH_CHARS] + "…"


def first_problem(value: Any, root: str = "") -> tuple[str, Text] | None:
    """`(where, what)` of the first thing in `value` the service cannot take, else None.

    `where` is a dotted path under `root` (`params.x[2].y`); `what` says what is wrong there.
    """
    stack: list[tuple[Any, str, int]] = [(value, root, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return _shown(path), text("value_out_of_range")
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return _shown(path), text("value_too_deep", max=MAX_DEPTH)
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            # Reversed, so that the first problem in reading order is found first.
            stack.extend((v, _joined(path, k), depth + 1) for k, v in reversed(list(pairs)))
    return None


def valid_text(value: Any) -> Any:
    """`value` with every lone surrogate in its strings (keys too) written as U+FFFD: text the
    model wrote that could otherwise be neither answered, stored nor sent on. Nesting is within
    MAX_DEPTH (`first_problem` first)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [valid_text(item) for item in value]
    if isinstance(value, dict):
        return {valid_text(key): valid_text(item) for key, item in value.items()}
    return value
