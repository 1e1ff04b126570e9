"""The latency floor: a functions-framework function doing only the work no implementation of
POST /gen can avoid, with the same SDKs, store and model as AIops:

1. parse the JSON body;
2. one store read: `find_one` by `_id` (the parent turn) on the same MongoDB collection;
3. one model call through the same `openai` SDK (one module-level client,
   `with_options(api_key=...)` per request), with a prompt of the same size as AIops' prompt
   for this request (the bench captures AIops' prompt and hands it over, see `PROMPT_ENV`);
4. one store write: `insert_one` of the new turn;
5. answer JSON.

    MONGODB_URI=... OPENAI_BASE_URL=... functions-framework --source bench/floor.py --target floor

No validation, no normalisation, no catalogue, no secrets, no logging: everything AIops does
beyond this is its overhead.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import functions_framework
from openai import OpenAI
from pymongo import MongoClient

PROMPT_ENV = "BENCH_FLOOR_PROMPT"
"""Path of a JSON file {"system": str, "response_format": obj|null}: the static part of AIops'
prompt for the benchmarked request (everything before its last message). Unset: a short one."""

_settings = {
    "uri": os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/?directConnection=true"),
    "db": os.environ.get("AIOPS_MONGODB_DB", "aiops"),
    "base_url": os.environ.get("OPENAI_BASE_URL") or None,
    "model": os.environ.get("AIOPS_MODEL", "gpt-4o-mini"),
}


def _prompt_template() -> tuple[str, dict[str, Any] | None]:
    path = os.environ.get(PROMPT_ENV)
    if not path:
        return 'Answer {"changes": {...}, "reply": "...", "questions": []} in JSON.', {
            "type": "json_object"
        }
    data = json.loads(Path(path).read_text())
    return data["system"], data.get("response_format")


_SYSTEM, _RESPONSE_FORMAT = _prompt_template()
_llm = OpenAI(api_key="sk-fake", base_url=_settings["base_url"], max_retries=0, timeout=30)
_mongo: MongoClient = MongoClient(
    _settings["uri"], tz_aware=True, connect=False, serverSelectionTimeoutMS=2000, timeoutMS=3000
)
_messages = _mongo[_settings["db"]]["messages"]


def handle(body: bytes, authorization: str = "") -> tuple[bytes, int]:
    """One request: the body in, (answer, status) out."""
    request = json.loads(body)
    key = request.get("openai_token") or authorization.removeprefix("Bearer ").strip()
    parent_id = request.get("parent_message_id")
    parent = _messages.find_one({"_id": parent_id}) if parent_id else None
    if parent_id and parent is None:
        return b'{"error":"not found"}', 404
    params = request["params"]
    user = f"Current form (JSON):\n{json.dumps(params)}\n\n{request['user_input']}"
    kwargs: dict[str, Any] = {
        "model": _settings["model"],
        "messages": [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}],
    }
    if _RESPONSE_FORMAT:
        kwargs["response_format"] = _RESPONSE_FORMAT
    completion = _llm.with_options(api_key=key).chat.completions.create(**kwargs)
    answer = json.loads(completion.choices[0].message.content or "{}")
    changes = answer.get("changes") or {}
    form = {**params, **{k: v for k, v in changes.items() if v is not None}}
    turn_id = str(uuid.uuid4())
    _messages.insert_one(
        {
            "_id": turn_id,
            "parent_id": parent_id,
            "key_hash": hashlib.sha256(key.encode()).hexdigest(),
            "created_at": datetime.now(UTC),
            "user_input": request["user_input"],
            "form_before": params,
            "form_after": form,
            "changes": changes,
            "reply": answer.get("reply", ""),
        }
    )
    out = {"GenParamsStr": json.dumps(form), "MessageId": turn_id, "Reply": answer.get("reply", "")}
    return json.dumps(out, ensure_ascii=False).encode(), 200


@functions_framework.http
def floor(request: Any) -> tuple[bytes, int, dict[str, str]]:
    if request.method != "POST":
        return b'{"status":"ok"}', 200, {"Content-Type": "application/json"}
    body, status = handle(request.get_data(), request.headers.get("Authorization", ""))
    return body, status, {"Content-Type": "application/json; charset=utf-8"}
