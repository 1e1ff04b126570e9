"""Warnings describe the form that is answered, not the one the page sent (issue 15, item 7)."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.app import FAKE_KEY, START_FORM


def generate(client: Any, user_input: str) -> dict[str, Any]:
    payload = {"user_input": user_input, "openai_token": FAKE_KEY, "params": START_FORM}
    response = client.post("/gen", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def image_warnings(answer: dict[str, Any]) -> list[str]:
    return [w["message"] for w in answer["Warnings"] if w["field"] == "image_name"]


def test_the_page_images_missing_tag_is_warned_while_the_image_stays(
    client: Any, model: Any
) -> None:
    model.reply(json.dumps({"changes": {"instance": 2}, "reply": "ok"}))
    answer = generate(client, "two replicas please")
    assert json.loads(answer["GenParamsStr"])["image_name"] == "nginx"
    assert any("nginx" in m and "tag" in m for m in image_warnings(answer))


def test_no_warning_about_the_page_image_once_the_answer_replaced_it(
    client: Any, model: Any
) -> None:
    model.reply(json.dumps({"changes": {"image_name": "mysql:8.4"}, "reply": "ok"}))
    answer = generate(client, "make it a mysql 8.4 database")
    assert json.loads(answer["GenParamsStr"])["image_name"] == "mysql:8.4"
    assert not any("nginx" in m for m in image_warnings(answer)), answer["Warnings"]
    assert not any("nginx" in w["message"] for w in answer["Warnings"])
