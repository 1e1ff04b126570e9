"""The dialects through POST /gen: the request's `form`, `params` and `GenParamsStr` in that
dialect, `Changes` named by its fields; the model (the scripted Chat Completions server, over
real HTTP through the openai SDK) working in the rich form; a fresh MinIO in each dialect on the
real server; a two-turn launchpad conversation; secrets of a private registry."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from tests.fixtures.app import FAKE_KEY, FORM_FIELDS, START_FORM, LiveServer
from tests.fixtures.model_server import Scripted
from tests.test_dialects import FULL_LAUNCHPAD, network, v2_document

MINIO = "minio/minio:RELEASE.2025-04-22T22-12-26Z"
NAME_12 = re.compile(r"[a-z]{12}")
LAUNCHPAD_PAGE = {
    "appName": "hello-world",
    "imageName": "nginx",
    "replicas": 1,
    "cpu": "200m",
    "memory": "256Mi",
    "networks": [network(80)],
}
MINIO_CHANGES = {
    "app_name": "minio",
    "image_name": MINIO,
    "memory": "1G",
    "parameters": '["server","/data","--console-address",":9001"]',
    "environment": [
        {"name": "MINIO_ROOT_USER", "value": "admin"},
        {"name": "MINIO_ROOT_PASSWORD", "value": "minioadmin"},
    ],
    "storage": [{"capacity": 20, "value": "/data"}],
}


def post(client: Any, params: Any, form: str | None, user_input: str = "部署 minio", **extra: Any):
    payload = {"user_input": user_input, "openai_token": FAKE_KEY, "params": params, **extra}
    if form is not None:
        payload["form"] = form
    response = client.post("/gen", json=payload)
    return response.status_code, response.get_json()


def ok(client: Any, params: Any, form: str | None, **kwargs: Any) -> dict[str, Any]:
    """A 200 the model answered (these tests script the model; an exact edit the service makes
    itself, README "Instant edits", has its own tests below)."""
    status, answer = post(client, params, form, **kwargs)
    assert status == 200, answer
    assert answer["Model"] != "instant", kwargs.get("user_input")
    return answer


def sent_to_model(model: Any) -> str:
    return json.dumps(model.completions[-1], ensure_ascii=False)


# --- the request field `form` --------------------------------------------------------------------


def test_an_unknown_form_is_a_400_naming_the_dialects(client: Any, model: Any) -> None:
    status, answer = post(client, START_FORM, "helm")
    assert status == 400
    assert answer["code"] == "invalid_request" and answer["field"] == "form"
    assert "aiops, launchpad, sealos-v2alpha" in answer["error"]
    assert model.completions == []
    status, answer = post(client, START_FORM, 3)
    assert status == 400 and answer["field"] == "form"


def test_the_default_dialect_is_the_flat_form_with_the_flat_prompt(client: Any, model: Any) -> None:
    model.reply(json.dumps({"changes": {"instance": 2}, "reply": "ok"}))
    plain = ok(client, START_FORM, None)
    model.reply(json.dumps({"changes": {"instance": 2}, "reply": "ok"}))
    named = ok(client, START_FORM, "aiops")
    for answer in (plain, named):
        assert tuple(json.loads(answer["GenParamsStr"]))[:12] == FORM_FIELDS
        assert answer["Changes"]["instance"] == 2
    schema = model.completions[-1]["response_format"]["json_schema"]["schema"]
    enum = schema["properties"]["changes"]["items"]["properties"]["field"]["enum"]
    assert "container_port" in enum and "ports" not in enum


@pytest.mark.parametrize(
    ("form", "params", "field"),
    [
        ("launchpad", {**LAUNCHPAD_PAGE, "cpu": "lots"}, "params.cpu"),
        ("launchpad", {**LAUNCHPAD_PAGE, "networks": "80"}, "params.networks"),
        (
            "launchpad",
            {**LAUNCHPAD_PAGE, "storeList": [{"name": "d", "path": "/d", "value": "10GB"}]},
            "params.storeList[0].value",
        ),
        ("launchpad", {**LAUNCHPAD_PAGE, "networks": [network(0)]}, "params.networks[0].port"),
        ("sealos-v2alpha", v2_document(quota={"cpu": "x"}), "params.quota.cpu"),
        (
            "sealos-v2alpha",
            v2_document(storage=[{"name": "d", "path": "/d", "size": "10GB"}]),
            "params.storage[0].size",
        ),
    ],
)
def test_a_page_value_the_dialect_cannot_read_is_a_400_naming_it(
    client: Any, model: Any, form: str, params: dict[str, Any], field: str
) -> None:
    status, answer = post(client, params, form, user_input="调整一下")
    assert status == 400, answer
    assert answer["field"] == field
    assert re.search(r"[\u4e00-\u9fff]", answer["error"])  # in the request's language
    assert model.completions == []


# --- no change: the form comes back as it was --------------------------------------------------


@pytest.mark.parametrize(
    ("form", "params"),
    [
        ("launchpad", FULL_LAUNCHPAD),
        (
            "sealos-v2alpha",
            v2_document(
                image={"imageName": "acme/app:1.2"},
                ports=[{"number": 9000, "protocol": "http", "isPublic": False}],
                storage=[{"name": "data", "path": "/data", "size": "10Gi"}],
                env=[{"name": "A", "value": "1"}],
            ),
        ),
    ],
)
def test_a_request_that_changes_nothing_gives_the_form_back_equal(
    client: Any, model: Any, form: str, params: dict[str, Any]
) -> None:
    model.reply(json.dumps({"changes": {}, "reply": "无需修改", "questions": []}))
    answer = ok(client, copy.deepcopy(params), form, user_input="看看就好，不用改")
    assert json.loads(answer["GenParamsStr"]) == params
    assert answer["Changes"] == {}
    assert answer["Warnings"] == []


# --- a fresh MinIO in each dialect, on the real server --------------------------------------------


def test_fresh_minio_in_the_aiops_dialect(live_server: LiveServer, model: Any) -> None:
    model.reply(json.dumps({"changes": {**MINIO_CHANGES, "container_port": 9000}}))
    payload = {"user_input": "部署 minio", "openai_token": FAKE_KEY, "params": START_FORM}
    status, answer, _ = live_server.post(payload)
    assert status == 200, answer
    form = json.loads(answer["GenParamsStr"])
    assert form["container_port"] == 9000 and form["public_access"] is False
    assert "ports" not in form and "networks" not in form


def test_fresh_minio_in_the_launchpad_dialect(live_server: LiveServer, model: Any) -> None:
    model.reply(json.dumps({"changes": MINIO_CHANGES, "reply": "已部署 minio"}))
    payload = {
        "user_input": "部署 minio",
        "openai_token": FAKE_KEY,
        "form": "launchpad",
        "params": LAUNCHPAD_PAGE,
    }
    status, answer, _ = live_server.post(payload)
    assert status == 200, answer
    document = json.loads(answer["GenParamsStr"])
    api, console = document["networks"]  # every port of the image, from the catalogue
    assert (api["port"], api["appProtocol"], api["openPublicDomain"]) == (9000, "HTTP", False)
    assert (console["port"], console["appProtocol"]) == (9001, "HTTP")
    assert console["openPublicDomain"] is True and console["openNodePort"] is False
    assert console["domain"] == "cloud.example.io"  # the page's domain
    assert NAME_12.fullmatch(console["publicDomain"])
    assert document["cpu"] == "200m" and document["memory"] == "1Gi"
    assert document["storeList"] == [{"name": "vn-data", "path": "/data", "value": "20Gi"}]
    assert document["kind"] == "statefulset"
    password = next(e["value"] for e in document["envs"] if e["key"] == "MINIO_ROOT_PASSWORD")
    assert password != "minioadmin" and len(password) >= 20  # a weak invented one is replaced
    assert {"networks", "envs", "storeList", "kind", "imageName", "appName", "memory"} <= set(
        answer["Changes"]
    )
    assert "ports" not in answer["Changes"] and "image_name" not in answer["Changes"]
    secret = [w for w in answer["Warnings"] if w["code"] == "generated_secret"]
    assert [w["field"] for w in secret] == ["envs.MINIO_ROOT_PASSWORD"]
    # the model was given the rich form, its instructions and its schema
    request = model.completions[-1]
    assert "- ports: array of at most 15" in request["messages"][0]["content"]
    schema = request["response_format"]["json_schema"]["schema"]
    enum = schema["properties"]["changes"]["items"]["properties"]["field"]["enum"]
    assert {"ports", "autoscaling", "registry", "gpu"} <= set(enum)
    assert "container_port" not in enum
    assert (
        '"ports":[{"port":80,"protocol":"http","public":false}]'
        in request["messages"][-1]["content"]
    )


def test_fresh_minio_in_the_v2alpha_dialect(live_server: LiveServer, model: Any) -> None:
    model.reply(json.dumps({"changes": MINIO_CHANGES, "reply": "ok"}))
    payload = {
        "user_input": "deploy minio",
        "openai_token": FAKE_KEY,
        "form": "sealos-v2alpha",
        "params": v2_document(name="hello-world", image={"imageName": "nginx"}),
    }
    status, answer, _ = live_server.post(payload)
    assert status == 200, answer
    document = json.loads(answer["GenParamsStr"])
    assert document["name"] == "minio"
    assert document["image"] == {"imageName": MINIO}
    assert document["ports"] == [
        {"number": 9000, "protocol": "http", "isPublic": False},
        {"number": 9001, "protocol": "http", "isPublic": True},
    ]
    assert document["quota"] == {"cpu": 0.5, "memory": 1, "replicas": 2}
    assert '"memory":1,' in answer["GenParamsStr"]  # a whole number, not 1.0
    assert document["launchCommand"] == {"args": ["server", "/data", "--console-address", ":9001"]}
    assert document["storage"] == [{"name": "vn-data", "path": "/data", "size": "20Gi"}]
    assert [e["name"] for e in document["env"]] == ["MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"]
    assert set(answer["Changes"]) == {"name", "image", "launchCommand", "ports", "env", "storage"}


# --- conversations -----------------------------------------------------------------------------


def test_two_turns_in_the_launchpad_dialect_add_a_public_port(client: Any, model: Any) -> None:
    first_ports = [{"port": 9000, "protocol": "http", "public": False}]
    model.reply(json.dumps({"changes": {**MINIO_CHANGES, "ports": first_ports}, "reply": "ok"}))
    first = ok(client, LAUNCHPAD_PAGE, "launchpad")
    page = json.loads(first["GenParamsStr"])
    assert [n["port"] for n in page["networks"]] == [9000]

    both = [*first_ports, {"port": 9001, "protocol": "http", "public": True}]
    items = [{"field": "ports", "value": both}]
    model.reply(json.dumps({"changes": items, "reply": "已添加 9001 端口并开放外网"}))
    second = ok(
        client,
        page,
        "launchpad",
        user_input="加一个 9001 端口并开放外网",
        parent_message_id=first["MessageId"],
    )
    document = json.loads(second["GenParamsStr"])
    kept, added = document["networks"]
    assert kept == page["networks"][0]  # the existing port keeps its names and domain
    assert added["port"] == 9001 and added["protocol"] == "TCP"
    assert added["appProtocol"] == "HTTP" and added["openPublicDomain"] is True
    assert re.fullmatch(r"network-[a-z]{12}", added["networkName"])
    assert NAME_12.fullmatch(added["portName"]) and NAME_12.fullmatch(added["publicDomain"])
    assert added["domain"] == kept["domain"] == "cloud.example.io"
    assert second["Changes"] == {"networks": document["networks"]}
    assert {k: v for k, v in document.items() if k != "networks"} == {
        k: v for k, v in page.items() if k != "networks"
    }
    # the model saw the first turn in its own (rich) words
    history = model.completions[-1]["messages"][1:-1]
    assert any('"image_name"' in m["content"] for m in history if m["role"] == "assistant")


def test_a_model_answering_a_bare_launchpad_form_is_understood(client: Any, model: Any) -> None:
    page = {**LAUNCHPAD_PAGE, "networks": [network(9000)]}
    added = {"port": 9001, "protocol": "TCP", "appProtocol": "HTTP", "openPublicDomain": True}
    model.reply(json.dumps({"networks": [network(9000), added], "cpu": "1", "replicas": 2}))
    answer = ok(client, page, "launchpad", user_input="加一个 9001 端口并开放外网")
    document = json.loads(answer["GenParamsStr"])
    assert document["networks"][0] == network(9000)
    new = document["networks"][1]
    assert new["port"] == 9001 and new["openPublicDomain"] is True
    assert re.fullmatch(r"network-[a-z]{12}", new["networkName"])
    assert new["domain"] == "cloud.example.io"
    assert document["cpu"] == "1000m"  # "1" in the launchpad's words: one core
    assert document["replicas"] == 2
    assert set(answer["Changes"]) == {"networks", "cpu", "replicas"}


def test_a_model_answering_a_bare_v2alpha_body_is_understood(client: Any, model: Any) -> None:
    model.reply(
        json.dumps(
            {
                "quota": {"cpu": 1, "memory": 2, "replicas": 3},
                "ports": [{"number": 8080, "protocol": "http", "isPublic": True}],
            }
        )
    )
    answer = ok(client, v2_document(), "sealos-v2alpha", user_input="scale up")
    document = json.loads(answer["GenParamsStr"])
    assert document["quota"] == {"cpu": 1, "memory": 2, "replicas": 3}
    assert document["ports"] == [{"number": 8080, "protocol": "http", "isPublic": True}]


def test_an_invalid_rich_answer_is_re_asked_then_kept(client: Any, model: Any) -> None:
    bad = {
        "changes": {
            "autoscaling": {"target": "cpu", "value": 500, "min_replicas": 1, "max_replicas": 3}
        }
    }
    model.reply(json.dumps(bad), json.dumps(bad))
    answer = ok(client, LAUNCHPAD_PAGE, "launchpad", user_input="开启自动伸缩")
    assert len(model.completions) == 2
    kept = [w for w in answer["Warnings"] if w["code"] == "kept_previous_value"]
    assert [w["field"] for w in kept] == ["hpa"]
    assert json.loads(answer["GenParamsStr"])["hpa"]["use"] is False


def test_autoscaling_and_gpu_from_the_model(client: Any, model: Any) -> None:
    scaling = {"target": "cpu", "value": 60, "min_replicas": 2, "max_replicas": 8}
    gpu = {"vendor": "nvidia", "type": "Tesla-T4", "amount": 1}
    model.reply(json.dumps({"changes": {"autoscaling": scaling, "gpu": gpu}}))
    document = json.loads(ok(client, LAUNCHPAD_PAGE, "launchpad")["GenParamsStr"])
    assert document["hpa"] == {
        "use": True,
        "target": "cpu",
        "value": 60,
        "minReplicas": 2,
        "maxReplicas": 8,
    }
    assert document["gpu"] == {"manufacturers": "nvidia", "type": "Tesla-T4", "amount": 1}
    model.reply(json.dumps({"changes": {"autoscaling": False, "gpu": False}}))
    again = json.loads(ok(client, document, "launchpad", user_input="关掉")["GenParamsStr"])
    assert again["hpa"]["use"] is False and again["gpu"]["type"] == ""


# --- the private registry's password -----------------------------------------------------------

REGISTRY_PASSWORD = "Reg1stry-Passw0rd-9f3k"


def test_the_registry_password_is_masked_towards_the_model_and_never_logged(
    client: Any, model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    page = {
        **LAUNCHPAD_PAGE,
        "imageName": "team/app:1.0",
        "secret": {
            "use": True,
            "username": "robot",
            "password": REGISTRY_PASSWORD,
            "serverAddress": "registry.example.com",
        },
    }
    model.reply(json.dumps({"changes": {"instance": 2}, "reply": "ok"}))
    first = ok(client, page, "launchpad", user_input="实例数调大一点")
    assert REGISTRY_PASSWORD not in sent_to_model(model)
    assert "__SECRET_" in sent_to_model(model)
    document = json.loads(first["GenParamsStr"])
    assert document["secret"]["password"] == REGISTRY_PASSWORD

    # a later turn: still masked, and the model's placeholder (whatever its spelling) comes
    # back as the password, in its own place
    def answer_with_the_placeholder(body: dict[str, Any]) -> Scripted:
        form = body["messages"][-1]["content"]
        found = re.search(r'"password":"([^"]+)"', form)
        assert found and found[1] != REGISTRY_PASSWORD
        registry = {"username": "robot2", "password": found[1], "server": "registry.example.com"}
        return Scripted(content=json.dumps({"changes": {"registry": registry}}))

    model.responder = answer_with_the_placeholder
    second = ok(
        client,
        document,
        "launchpad",
        user_input="用户名改成 robot2",
        parent_message_id=first["MessageId"],
    )
    assert REGISTRY_PASSWORD not in sent_to_model(model)
    secret = json.loads(second["GenParamsStr"])["secret"]
    assert secret == {
        "use": True,
        "username": "robot2",
        "password": REGISTRY_PASSWORD,
        "serverAddress": "registry.example.com",
    }
    assert REGISTRY_PASSWORD not in capsys.readouterr().out


# --- openapi.yaml describes what each dialect answers ------------------------------------------


@pytest.mark.parametrize(
    ("form", "params", "schema"),
    [
        ("launchpad", FULL_LAUNCHPAD, "LaunchpadForm"),
        ("launchpad", {}, "LaunchpadForm"),
        ("sealos-v2alpha", v2_document(), "SealosV2alphaApp"),
        ("sealos-v2alpha", {"quota": {"replicas": 1}}, "SealosV2alphaApp"),
    ],
)
def test_the_answer_is_the_documented_schema_of_its_dialect(
    client: Any, model: Any, form: str, params: dict[str, Any], schema: str
) -> None:
    from tests.test_openapi import form_validator

    model.reply(
        json.dumps(
            {
                "changes": {
                    **MINIO_CHANGES,
                    "autoscaling": {
                        "target": "cpu",
                        "value": 50,
                        "min_replicas": 1,
                        "max_replicas": 4,
                    },
                }
            }
        )
    )
    answer = ok(client, copy.deepcopy(params), form)
    document = json.loads(answer["GenParamsStr"])
    form_validator(schema).validate(document)
    for name, value in answer["Changes"].items():
        assert document[name] == value


# --- the catalogue's checks on several ports ---------------------------------------------------


def test_catalogue_checks_look_at_the_image_s_main_port_among_several(
    client: Any, model: Any
) -> None:
    ports = [
        {"port": 3000, "protocol": "http", "public": True},
        {"port": 22, "protocol": "tcp", "public": True},  # SSH through a NodePort: fine
    ]
    model.reply(
        json.dumps(
            {
                "changes": {
                    "image_name": "gitea/gitea:1.25",
                    "ports": ports,
                    "storage": [{"capacity": 10, "value": "/data"}],
                }
            }
        )
    )
    answer = ok(client, LAUNCHPAD_PAGE, "launchpad", user_input="deploy gitea")
    assert not [w for w in answer["Warnings"] if w["code"].startswith("catalog_port")]
    assert not [w for w in answer["Warnings"] if w["code"] == "catalog_tcp_public"]

    wrong = [{"port": 8080, "protocol": "http", "public": False}]
    model.reply(json.dumps({"changes": {"image_name": "gitea/gitea:1.25", "ports": wrong}}))
    answer = ok(client, LAUNCHPAD_PAGE, "launchpad", user_input="deploy gitea")
    mismatch = [w for w in answer["Warnings"] if w["code"] == "catalog_port_mismatch"]
    assert [w["field"] for w in mismatch] == ["networks[0].port"]
    assert "3000" in mismatch[0]["message"]


def test_a_partial_quota_from_the_model_keeps_the_rest(client: Any, model: Any) -> None:
    model.reply(json.dumps({"quota": {"cpu": 2}, "reply": "ok"}))
    answer = ok(client, v2_document(), "sealos-v2alpha", user_input="2 cores, I think")
    assert json.loads(answer["GenParamsStr"])["quota"] == {"cpu": 2, "memory": 1, "replicas": 2}
    hpa = {"target": "cpu", "value": 70, "minReplicas": 2, "maxReplicas": 6}
    model.reply(json.dumps({"quota": {"hpa": hpa}, "reply": "ok"}))
    answer = ok(client, v2_document(), "sealos-v2alpha", user_input="autoscale")
    assert json.loads(answer["GenParamsStr"])["quota"] == {"cpu": 0.5, "memory": 1, "hpa": hpa}


def test_a_wrapper_with_every_dialect_field_null_changes_nothing(client: Any, model: Any) -> None:
    nulls = dict.fromkeys(("appName", "networks", "kind", "cpu", "hpa"))
    model.reply(json.dumps({"changes": {**nulls, "replicas": 3}, "reply": "ok"}))
    answer = ok(client, LAUNCHPAD_PAGE, "launchpad", user_input="我觉得三个实例够了")
    assert answer["Changes"] == {"replicas": 3}
    document = json.loads(answer["GenParamsStr"])
    assert document["replicas"] == 3 and document["networks"] == [network(80)]


def test_a_new_public_port_takes_the_configured_domain_when_the_page_has_none(
    client: Any, model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.app import fresh_app

    monkeypatch.setenv("AIOPS_LAUNCHPAD_DOMAIN", "cloud.sealos.io")
    fresh_app()
    ports = [{"port": 3000, "protocol": "http", "public": True}]
    model.reply(json.dumps({"changes": {"ports": ports}}))
    page = {**LAUNCHPAD_PAGE, "networks": [network(80, domain="")]}
    document = json.loads(ok(client, page, "launchpad", user_input="开放 3000")["GenParamsStr"])
    assert document["networks"][0]["domain"] == "cloud.sealos.io"
    assert document["networks"][0]["openPublicDomain"] is True


# --- instant edits in the rich dialects ----------------------------------------------------------


def test_an_exact_edit_in_the_launchpad_dialect_needs_no_model(client: Any, model: Any) -> None:
    status, answer = post(
        client, LAUNCHPAD_PAGE, "launchpad", user_input="把内存调到2G，开启外网访问"
    )
    assert status == 200, answer
    assert answer["Model"] == "instant" and model.completions == []
    assert answer["Usage"]["llm_calls"] == 0
    document = json.loads(answer["GenParamsStr"])
    assert document["memory"] == "2Gi"
    assert set(answer["Changes"]) == {"memory", "networks"}
    [port] = document["networks"]
    assert port["port"] == 80 and port["openPublicDomain"] is True
    assert port["networkName"] == LAUNCHPAD_PAGE["networks"][0]["networkName"]  # kept


def test_an_exact_edit_in_the_v2alpha_dialect_needs_no_model(client: Any, model: Any) -> None:
    status, answer = post(client, v2_document(), "sealos-v2alpha", user_input="give it 2 cpu cores")
    assert status == 200, answer
    assert answer["Model"] == "instant" and model.completions == []
    assert json.loads(answer["GenParamsStr"])["quota"]["cpu"] == 2
    assert answer["Changes"] == {"quota": json.loads(answer["GenParamsStr"])["quota"]}
