"""The cold-start floor: a functions-framework function that imports the SDKs AIops needs and
answers a constant. Served as production serves AIops:

    functions-framework --source bench/bare.py --target bare

Nothing here is lazy and nothing is configured: what is left is the unavoidable price of the
interpreter, functions-framework (Flask, gunicorn) and the SDKs themselves.
"""

from __future__ import annotations

from typing import Any

import functions_framework
import openai  # noqa: F401
import pydantic  # noqa: F401
import pymongo  # noqa: F401


@functions_framework.http
def bare(request: Any) -> tuple[bytes, int, dict[str, str]]:
    return b'{"status":"ok"}', 200, {"Content-Type": "application/json"}
