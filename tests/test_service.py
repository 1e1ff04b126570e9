"""The service's use of the image catalogue, seen from outside: what the model is told, and
the warnings that come back (issue 5's "done when")."""

from __future__ import annotations

import json
from typing import Any

from aiops.api import ApiError, GenRequest
from aiops.app import App
from aiops.service import REASK, Generation, ReaskPolicy
from aiops.settings import Settings
from tests.fixtures.app import FAKE_KEY, START_FORM


def generate(client: Any, user_input: str, params: dict[str, Any] = START_FORM) -> dict[str, Any]:
    payload = {"user_input": user_input, "openai_token": FAKE_KEY, "params": params}
    response = client.post("/gen", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def facts_sent(model: Any) -> str:
    """The catalogue facts of the last model request ("" when it had none)."""
    messages = model.completions[-1]["messages"]
    facts = [m["content"] for m in messages[1:] if m["role"] == "system"]
    return "\n".join(facts)


def test_postgres_facts_go_to_the_model_and_nothing_unrelated(client: Any, model: Any) -> None:
    model.reply(json.dumps({"changes": {"image_name": "postgres:17"}, "reply": "ok"}))
    generate(client, "帮我部署一个 postgres")
    facts = facts_sent(model)
    for fact in ("5432", "/var/lib/postgresql/data", "POSTGRES_PASSWORD", "PGDATA"):
        assert fact in facts
    for unrelated in ("mysql", "3306", "redis", "6379", "nginx"):
        assert unrelated not in facts.lower()
    # The facts follow the static instructions, and come before the user's request.
    roles = [m["role"] for m in model.completions[-1]["messages"]]
    assert roles == ["system", "system", "user"]


def test_a_request_naming_no_known_image_adds_nothing(client: Any, model: Any) -> None:
    model.reply(json.dumps({"changes": {"instance": 2}, "reply": "ok"}))
    generate(client, "scale my app to two replicas", {**START_FORM, "image_name": "acme/app:1.2"})
    assert facts_sent(model) == ""


def test_redis_on_port_80_comes_back_with_a_warning_naming_6379(client: Any, model: Any) -> None:
    model.reply(json.dumps({"changes": {"image_name": "redis:7.4", "container_port": 80}}))
    answer = generate(client, "deploy redis")
    port_warnings = [w["message"] for w in answer["Warnings"] if w["field"] == "container_port"]
    assert port_warnings and "6379" in port_warnings[0]
    assert json.loads(answer["GenParamsStr"])["container_port"] == 80  # warned, not changed


def test_a_form_that_agrees_with_the_catalogue_gets_no_catalogue_warning(
    client: Any, model: Any
) -> None:
    changes = {
        "image_name": "redis:7.4",
        "container_port": 6379,
        "memory": "256M",
        "storage": [{"capacity": 1, "value": "/data"}],
    }
    model.reply(json.dumps({"changes": changes}))
    answer = generate(client, "deploy redis")
    fields = {w["field"] for w in answer["Warnings"]}
    assert not fields & {"container_port", "storage", "memory", "public_access"}


def test_an_edit_of_the_current_app_gets_that_image_s_facts(client: Any, model: Any) -> None:
    model.reply(json.dumps({"changes": {"memory": "128M"}}))
    generate(client, "把内存调低些", {**START_FORM, "image_name": "redis:7.4"})
    assert "6379" in facts_sent(model)


# --- the re-ask policy (service.ReaskPolicy, README "How a request is served") -----------------

BAD_CPU = json.dumps({"changes": {"cpu": "lots", "memory": "256M"}, "reply": "more memory"})


def reasked(model: Any, policy: Any) -> Any:
    """One generation whose first answer has an invalid cpu and whose re-ask is refused with a
    429: the answer, or the ApiError it ends in."""
    model.reply(BAD_CPU).fail(429, "slow down")
    app = App.from_settings(Settings(openai_base_url=model.base_url, llm_max_retries=0))
    request = GenRequest(user_input="give it more memory", params=START_FORM)
    try:
        return Generation(request, FAKE_KEY, app, reask=policy).run()
    except ApiError as error:
        return error
    finally:
        app.close()


def test_a_usable_first_answer_survives_a_rate_limited_re_ask(model: Any) -> None:
    answer = reasked(model, REASK)
    form = json.loads(answer.GenParamsStr)
    assert form["memory"] == "256M" and form["cpu"] == START_FORM["cpu"]
    assert [w.code for w in answer.Warnings if w.field == "cpu"] == ["kept_previous_value"]
    assert answer.Usage.llm_calls == 2


def test_a_policy_that_survives_nothing_ends_in_the_re_ask_s_failure(model: Any) -> None:
    error = reasked(model, ReaskPolicy(survivable=frozenset()))
    assert error.code == "rate_limited"
    assert len(model.requests) == 2
