"""Tests of the image catalogue: the data file, matching a request, facts, and checks."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from aiops import catalog, catalog_check
from aiops.catalog import (
    CATALOG_PATH,
    CATEGORIES,
    Catalog,
    CatalogFile,
    Entry,
    check_form,
    facts_for_prompt,
    image_references,
    image_repository,
    image_tag,
)
from aiops.form import normalise
from aiops.secret_values import is_secret_name

CATALOG = catalog.load()  # once for the module
ENTRIES = CATALOG.entries
BRIEF_CATEGORIES = {
    "database", "cache", "queue", "search", "web-server", "cms", "wiki", "git-ci",
    "monitoring", "object-storage", "auth", "automation", "ai-frontend", "model-server",
}  # fmt: skip
# Variables whose names look secret to secret_values but that hold no secret.
NOT_SECRET = {"REGISTRY_AUTH_HTPASSWD_PATH", "REGISTRY_AUTH_HTPASSWD_REALM", "HIDE_USER_API_KEY"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def entry(entry_id: str) -> Entry:
    found = CATALOG.get(entry_id)
    assert found is not None, entry_id
    return found


def ids(entries: list[Entry]) -> list[str]:
    return [e.id for e in entries]


def by_id(entry: Entry) -> str:
    return entry.id


# --- the data file ------------------------------------------------------------------------------


def test_the_file_validates_against_the_model() -> None:
    data = CatalogFile.model_validate_json(CATALOG_PATH.read_bytes())
    assert len(data.entries) >= 60
    assert len(data.entries) == len(ENTRIES)


def write_catalogue(tmp_path: Path, entries: list[dict[str, Any]]) -> Path:
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"entries": entries}), encoding="utf-8")
    return path


def raw_entries() -> list[dict[str, Any]]:
    return json.loads(CATALOG_PATH.read_text(encoding="utf-8"))["entries"]


def test_a_file_with_an_id_used_twice_is_refused(tmp_path: Path) -> None:
    entries = raw_entries()
    twice = write_catalogue(tmp_path, [*entries, entries[0]])
    with pytest.raises(ValueError, match="used twice"):
        Catalog.from_file(twice)


@pytest.mark.parametrize("e", ENTRIES, ids=by_id)
def test_each_minimum_memory_is_accepted_by_the_form(e: Entry) -> None:
    result = normalise({"memory": e.min_memory})
    assert result.form["memory"] == e.min_memory
    assert not [n for n in [*result.errors, *result.warnings] if n.field == "memory"], e.id


def test_every_category_of_the_brief_is_present_and_none_is_unused() -> None:
    present = {e.category for e in ENTRIES}
    assert present >= BRIEF_CATEGORIES
    assert set(CATEGORIES) - present == set()


def test_chinese_aliases_are_there() -> None:
    with_chinese = [e.id for e in ENTRIES if any(CJK.search(name) for name in e.names)]
    assert len(with_chinese) >= 20


def test_no_name_belongs_to_two_entries() -> None:
    owner: dict[str, str] = {}
    for e in ENTRIES:
        for name in [e.id, *e.names]:
            key = catalog._squashed(name)
            assert owner.setdefault(key, e.id) == e.id, f"{name!r}: {owner[key]} and {e.id}"


@pytest.mark.parametrize("e", ENTRIES, ids=by_id)
def test_entry_facts_are_consistent(e: Entry) -> None:
    if e.web:  # a web app is exposed on its main port, which must then speak plain HTTP
        assert e.main_port.http, e.id
    for var in e.env:
        if is_secret_name(var.name) and var.name not in NOT_SECRET:
            assert var.secret, var.name
    assert len({(p.number, p.protocol) for p in e.ports}) == len(e.ports)
    assert sum(p.web_ui for p in e.ports) <= 1, "one web UI port per entry"
    for port in e.ports:
        if port.web_ui:  # a browser reaches a web UI over HTTP(S)
            assert port.application in ("http", "https"), (e.id, port.number)
        if port.application == "https" or "tls" in port.purpose.lower():
            assert not port.http, (e.id, port.number)


@pytest.mark.parametrize("e", ENTRIES, ids=by_id)
def test_each_entry_records_what_was_checked_and_when(e: Entry) -> None:
    checked = e.checked
    assert date(2026, 1, 1) <= checked.on <= date.today()
    assert checked.sources and checked.pin
    for source in checked.sources:
        assert re.fullmatch(r"github:[\w.-]+/[\w.-]+@[0-9a-f]{7,40}:\S+|https://\S+", source)
    docker_library = [s for s in checked.sources if s.startswith("github:docker-library/docs@")]
    if "/" not in image_repository(e.image) and e.id != "mongo-express":
        # an official image: its Supported tags list is the source of its pin
        assert any(s.endswith("/README.md") for s in docker_library), e.id


def test_an_entry_without_a_check_record_is_refused() -> None:
    data = valid_entry()
    del data["checked"]
    with pytest.raises(ValidationError, match="checked"):
        Entry.model_validate(data)


@pytest.mark.parametrize("e", ENTRIES, ids=by_id)
def test_each_name_finds_its_own_entry_first(e: Entry) -> None:
    for name in [e.id, *e.names]:
        assert ids(CATALOG.match(name))[:1] == [e.id], name
    assert CATALOG.for_image(e.image) is e


def valid_entry(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "demo",
        "names": ["demo app"],
        "image": "demo/app:1.2",
        "category": "tools",
        "ports": [{"number": 8080, "protocol": "tcp", "application": "http", "web_ui": True}],
        "volumes": [{"path": "/data", "capacity_gi": 1}],
        "env": [{"name": "DEMO_PASSWORD", "meaning": "password", "required": True, "secret": True}],
        "min_memory": "128M",
        "web": True,
        "source": "https://example.com/docs",
        "checked": {
            "on": "2026-11-30",
            "sources": ["github:acme/demo@0123456789abcdef:README.md", "https://example.com/docs"],
            "pin": "1.2 is the newest release",
        },
    }
    return data | changes


def checked(**changes: Any) -> dict[str, Any]:
    return {"checked": valid_entry()["checked"] | changes}


def port(**changes: Any) -> dict[str, Any]:
    main = {"number": 8080, "protocol": "tcp", "application": "http", "web_ui": True}
    return {"ports": [main | changes]}


@pytest.mark.parametrize(
    "changes",
    [
        {"image": "demo/app"},
        {"image": "demo/app:latest"},
        {"image": "Demo/App:1.2"},
        {"min_memory": "300M"},
        port(number=0),
        port(number=70000),
        port(protocol="sctp"),
        port(application="amqp"),
        port(http=True),  # the old flag: now derived from the application protocol
        {"ports": [{"number": 8080, "protocol": "tcp", "application": "http"}]},  # no web_ui
        {"ports": []},
        checked(on="2026-13-01"),
        checked(sources=[]),
        checked(sources=["github:acme/demo:README.md"]),  # no commit: not where to start from
        checked(sources=["docs.example.com/page"]),
        checked(pin=""),
        {"category": "games"},
        {"volumes": [{"path": "data", "capacity_gi": 1}]},
        {"volumes": [{"path": "/data", "capacity_gi": 50}]},
        {"env": [{"name": "X_PASSWORD", "meaning": "p", "secret": True, "example": "hunter2"}]},
        {"parameters": "server /data"},
        {"source": "http://example.com"},
        {"names": [" padded"]},
        {"unknown": 1},
    ],
)
def test_the_model_rejects_a_bad_entry(changes: dict[str, Any]) -> None:
    Entry.model_validate(valid_entry())
    with pytest.raises(ValidationError):
        Entry.model_validate(valid_entry(**changes))


def test_a_catalogue_refuses_duplicate_ids() -> None:
    demo = Entry.model_validate(valid_entry())
    with pytest.raises(ValueError, match="twice"):
        Catalog([demo, demo])


# --- matching -----------------------------------------------------------------------------------

COMPOSE = """services:
  db:
    image: mariadb:11.4
  web:
    image: "ghost:5-alpine"
    environment:
      database__client: mysql
"""
DOCKER_RUN = """Run it:
  docker run -d --name kuma -p 3001:3001 \\
    -v uptime-kuma:/app/data louislam/uptime-kuma:1
"""

MATCHES: list[tuple[str, str | None, list[str]]] = [
    ("部署一个 postgres", None, ["postgres"]),
    ("帮我部署一个 postgres", None, ["postgres"]),
    ("帮我装个redis缓存", None, ["redis"]),
    ("对象存储", None, ["minio"]),
    ("我需要一个对象存储服务", None, ["minio"]),
    ("deploy mysql 8.0", None, ["mysql"]),
    ("mysql8 with 1G memory", None, ["mysql"]),
    ("pg16 please", None, ["postgres"]),
    ("use postgres:16 instead", None, ["postgres"]),
    ("PostgreSQL for my app", None, ["postgres"]),
    ("a Postgress db", None, ["postgres"]),  # typo covered by an alias
    ("mongdb 7", None, ["mongo"]),  # typo covered by an alias
    ("Elasticserch 8 single node", None, ["elasticsearch"]),  # typo covered by an alias
    ("Redis and MySQL", None, ["redis", "mysql"]),
    ("wordpress，数据库用 mysql", None, ["wordpress", "mysql"]),
    ("搭建一个博客", None, ["wordpress"]),
    ("部署 halo 博客", None, ["halo", "wordpress"]),  # product names before generic terms
    ("open webui 连接 ollama", None, ["open-webui", "ollama"]),
    ("Open-WebUI", None, ["open-webui"]),
    ("OpenWebUI with GPU", None, ["open-webui"]),
    ("uptime kuma 监控我的网站", None, ["uptime-kuma"]),
    ("部署 n8n 工作流自动化", None, ["n8n"]),
    ("home assistant 智能家居", None, ["home-assistant"]),
    ("私有网盘 nextcloud", None, ["nextcloud"]),
    ("pgadmin4 to manage my pg", None, ["pgadmin", "postgres"]),
    ("wiki.js with postgres", None, ["wikijs", "postgres"]),
    ("keycloak 单点登录", None, ["keycloak"]),
    ("消息队列 rabbitmq 还是 kafka", None, ["rabbitmq", "kafka"]),
    ("ElasticSearch + Kibana", None, ["elasticsearch", "kibana"]),
    ("一个vscode在线编辑器", None, ["code-server"]),
    ("ChatGPT-Next-Web 和 one-api", None, ["nextchat", "one-api"]),
    ("mongo-express for my mongodb", None, ["mongo-express", "mongo"]),
    ("spring.redis.host=cache", None, ["redis"]),
    (COMPOSE, None, ["mariadb", "ghost", "mysql"]),  # images first, then names
    (DOCKER_RUN, None, ["uptime-kuma"]),
    ("docker pull grafana/grafana-oss:11.0.0 then set it up", None, ["grafana"]),
    ("kubectl run web --image=nginx:1.27", None, ["nginx"]),
    ("FROM node:20 AS build\nRUN npm ci\nFROM nginx:1.27-alpine\n", None, ["nginx"]),
    (
        "Requires Redis. docker run -p 8080:8080 quay.io/keycloak/keycloak:26.0 start-dev",
        None,
        ["keycloak", "redis"],  # image references before names in the text
    ),
    ("use 2G of memory", "bitnami/redis:7.2", ["redis"]),
    ("加一个 mysql", "wordpress:6", ["mysql", "wordpress"]),  # text before the current image
    ("", "docker.io/library/mysql:8", ["mysql"]),
    (
        "redis mysql postgres mongo kafka rabbitmq nginx",
        None,
        ["redis", "mysql", "postgres", "mongo", "kafka"],  # capped at 5
    ),
]


@pytest.mark.parametrize(("text", "image_name", "expected"), MATCHES)
def test_match(text: str, image_name: str | None, expected: list[str]) -> None:
    assert ids(CATALOG.match(text, image_name)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "upgrade my app",
        "redistribute the load",
        "你好",
        "",
        "please upgrade to version 2 and use mysqldump nightly",
        "把内存改成 1G，端口 8080",
        "hello world",
    ],
)
def test_no_match(text: str) -> None:
    assert CATALOG.match(text) == []
    assert CATALOG.match(text, "") == []


def test_limit() -> None:
    text = "redis mysql postgres"
    assert ids(CATALOG.match(text, limit=2)) == ["redis", "mysql"]
    assert CATALOG.match(text, limit=0) == []


def one_regex_of_every_name() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """What matching names means, written as two plain regexes (the ASCII names bounded by
    non-letters, the others anywhere), each name's words joined by one separator or none,
    tried in sorted order with a name after its longer extensions, as a regex trie would."""
    spelled = {
        re.sub(r"[ ._-]+", "\0", name.lower().strip(" ._-"))
        for e in ENTRIES
        for name in [e.id, *e.names]
    }
    ordered = sorted(spelled, key=lambda name: [*map(ord, name), sys.maxunicode + 1])

    def alternation(names: list[str]) -> str:
        return "|".join("[ ._-]?".join(map(re.escape, n.split("\0"))) for n in names)

    ascii_names = [name for name in ordered if name.isascii()]
    others = [name for name in ordered if not name.isascii()]
    bounded = re.compile(rf"[^a-z0-9]({alternation(ascii_names)})(?![a-z])")
    return bounded, re.compile(alternation(others))


def named_by_regex(text: str, bounded: re.Pattern[str], others: re.Pattern[str]) -> list[str]:
    lowered = text.lower()
    ascii_text = lowered if lowered.isascii() else re.sub(r"[^\x00-\x7f]+", " ", lowered)
    names = [*bounded.findall(" " + ascii_text), *(others.findall(lowered) if others else [])]
    by_name = {
        "".join(ch for ch in name.lower() if ch not in " ._-"): e.id
        for e in reversed(ENTRIES)
        for name in reversed([e.id, *e.names])
    }
    return [by_name["".join(ch for ch in name if ch not in " ._-\0")] for name in names]


def fuzzed_requests(count: int) -> list[str]:
    """Texts made of the catalogue's names (cut, upper-cased, their separators changed) and
    random characters: where a trie walk and a regex could disagree."""
    chance = random.Random(18)
    names = sorted({name for e in ENTRIES for name in [e.id, *e.names]})
    alphabet = list(" ._-/:@0123456789abcdeklmnopqrstuvwxyz\n\t数据库中文存储对象é")
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(chance.randint(1, 8)):
            if chance.random() < 0.55:
                name = chance.choice(names)
                name = "".join(
                    ch if chance.random() > 0.1 else chance.choice(" ._-/") for ch in name
                )
                if chance.random() < 0.2:
                    name = name[: chance.randint(1, len(name))]
                parts.append(name.upper() if chance.random() < 0.3 else name)
            else:
                parts.append("".join(chance.choices(alphabet, k=chance.randint(0, 6))))
        texts.append("".join(parts))
    return texts


def test_names_are_found_as_one_regex_of_every_name_finds_them() -> None:
    bounded, others = one_regex_of_every_name()
    texts = [case[0] for case in MATCHES] + fuzzed_requests(3000)
    for text in texts:
        expected = [
            *(e.id for ref in image_references(text) if (e := CATALOG.for_image(ref))),
            *named_by_regex(text, bounded, others),
        ]
        assert ids(CATALOG.match(text, limit=1000)) == list(dict.fromkeys(expected)), text


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("bitnami/redis:7.2", "redis"),
        ("docker.io/library/mysql:8", "mysql"),
        ("mysql/mysql-server:8.0", "mysql"),
        ("bitnami/postgresql:16", "postgres"),
        ("quay.io/keycloak/keycloak:25.0", "keycloak"),
        ("ghcr.io/open-webui/open-webui:main", "open-webui"),
        ("docker.elastic.co/elasticsearch/elasticsearch:8.15.0", "elasticsearch"),
        ("registry.cn-hangzhou.aliyuncs.com/library/redis:7", "redis"),
        ("grafana/grafana-oss", "grafana"),
        ("gitlab/gitlab-ee:17.0.0-ee.0", "gitlab"),
        ("vaultwarden/server:1.30.0", "vaultwarden"),
        ("requarks/wiki:2", "wikijs"),
        ("redis@sha256:" + "a" * 64, "redis"),
        ("someone/server:1", None),
        ("alpine:3.20", None),
        ("localhost:5000/myapp:1", None),
        ("", None),
        ("not an image!", None),
    ],
)
def test_for_image(image: str, expected: str | None) -> None:
    found = CATALOG.for_image(image)
    assert (found.id if found else None) == expected


def test_image_repository_and_tag() -> None:
    assert image_repository("docker.io/library/mysql:8") == "mysql"
    assert image_repository("quay.io/keycloak/keycloak:26.0") == "keycloak/keycloak"
    assert image_repository("localhost:5000/team/app:1") == "team/app"
    assert image_repository("Redis:7") == "redis"
    assert image_tag("redis:7.4") == "7.4"
    assert image_tag("localhost:5000/app") == ""
    assert image_tag("minio/minio:RELEASE.2025-04-22T22-12-26Z") == "RELEASE.2025-04-22T22-12-26Z"


def test_image_references_read_commands_and_files() -> None:
    text = (
        "docker run --rm -it -e A=1 --env B=2 -v d:/data -p8080:80 --name=x Nginx:1.27 sh\n"
        "docker run -P -d caddy:2.8\n"
        "docker pull -q valkey/valkey:8.0\n"
        "docker container create --network host redis:7\n"
        "  - image: 'postgres:17'\n"
        "Image: the container image to use\n"
        "From the docs:\n"
        "FROM --platform=linux/amd64 node:20\n"
        "image: ${REGISTRY}/app:${TAG}\n"
    )
    assert image_references(text) == [
        "nginx:1.27",
        "caddy:2.8",
        "valkey/valkey:8.0",
        "redis:7",
        "postgres:17",
        "the",
        "the",
        "node:20",
    ]


# --- facts for the model ------------------------------------------------------------------------


def test_facts_for_postgres() -> None:
    facts = facts_for_prompt(CATALOG.match("帮我部署一个 postgres"))
    assert "5432" in facts
    assert "/var/lib/postgresql/data" in facts
    assert "POSTGRES_PASSWORD" in facts
    assert "PGDATA" in facts
    for unrelated in ("mysql", "3306", "redis", "6379", "wordpress"):
        assert unrelated not in facts.lower()
    assert "https://" not in facts  # no source URLs


def test_facts_are_short_and_empty_for_nothing() -> None:
    assert facts_for_prompt([]) == ""
    assert all(len(facts_for_prompt([e])) < 1400 for e in ENTRIES)


def test_facts_show_flags_examples_and_parameters() -> None:
    facts = facts_for_prompt([entry("minio"), entry("redis"), entry("nacos")])
    assert "MINIO_ROOT_PASSWORD (secret)" in facts  # optional: minioadmin is the default
    assert "NACOS_AUTH_TOKEN (required, secret)" in facts
    assert '["server", "/data", "--console-address", ":9001"]' in facts
    assert "9001/http web console (web UI)" in facts and "6379/tcp" in facts
    assert "9848/grpc client gRPC" in facts
    assert facts.count("\n- ") == 2  # one block per entry


def test_every_port_of_an_image_is_listed_with_its_role() -> None:
    minio, gitea, rabbitmq, caddy = (entry(i) for i in ("minio", "gitea", "rabbitmq", "caddy"))
    assert [(p.number, p.application, p.web_ui) for p in minio.ports] == [
        (9000, "http", False),
        (9001, "http", True),
    ]
    assert [p.number for p in gitea.ports] == [3000, 22]
    assert gitea.ports[1].application is None and not gitea.ports[1].http
    assert rabbitmq.main_port.number == 5672
    assert rabbitmq.web_ui_port is not None and rabbitmq.web_ui_port.number == 15672
    assert entry("redis").web_ui_port is None
    assert ("udp", 443) in {(p.protocol, p.number) for p in caddy.ports}
    facts = facts_for_prompt([caddy])
    assert "443/https" in facts and "443/udp https" in facts


def test_a_form_on_the_main_port_of_a_multi_port_image_gets_no_warning() -> None:
    keycloak = entry("keycloak")
    for number in (p.number for p in keycloak.ports):
        assert fields(
            check_form(agreeing_form(keycloak) | {"container_port": number}, keycloak)
        ) in (
            [],
            ["public_access"],
        )


# --- checks of the model's answer ---------------------------------------------------------------


def agreeing_form(e: Entry) -> dict[str, Any]:
    main = e.ports[0]
    return {
        "image_name": e.image,
        "container_port": main.number,
        "public_access": e.web,
        "memory": e.min_memory,
        "command": e.command,
        "parameters": e.parameters,
        "environment": [
            {"name": v.name, "value": v.example or "s3cr3t-Value-123"} for v in e.env if v.required
        ],
        "storage": [{"capacity": v.capacity_gi, "value": v.path} for v in e.volumes],
    }


@pytest.mark.parametrize("e", ENTRIES, ids=by_id)
def test_a_form_that_agrees_gets_no_warning(e: Entry) -> None:
    assert check_form(agreeing_form(e), e) == []


def fields(notices: list[catalog.Notice]) -> list[str]:
    return [n.field for n in notices]


def test_wrong_port_names_the_right_one() -> None:
    redis = entry("redis")
    notices = check_form(agreeing_form(redis) | {"container_port": 80}, redis)
    assert fields(notices) == ["container_port"]
    assert "6379" in notices[0].message


def test_a_port_configured_in_the_arguments_is_not_wrong() -> None:
    redis = entry("redis")
    form = agreeing_form(redis) | {"container_port": 6380, "parameters": '["--port", "6380"]'}
    assert check_form(form, redis) == []


def test_missing_required_variable() -> None:
    mysql = entry("mysql")
    notices = check_form(agreeing_form(mysql) | {"environment": []}, mysql)
    assert fields(notices) == ["environment.MYSQL_ROOT_PASSWORD"]
    empty = [{"name": "MYSQL_ROOT_PASSWORD", "value": ""}]
    assert fields(check_form(agreeing_form(mysql) | {"environment": empty}, mysql)) == [
        "environment.MYSQL_ROOT_PASSWORD"
    ]


def test_memory_below_minimum() -> None:
    mysql = entry("mysql")
    notices = check_form(agreeing_form(mysql) | {"memory": "256M"}, mysql)
    assert fields(notices) == ["memory"]
    assert "512M" in notices[0].message
    assert check_form(agreeing_form(mysql) | {"memory": "1G"}, mysql) == []


def test_public_access_on_a_port_that_terminates_tls_itself() -> None:
    es = entry("elasticsearch")
    notices = check_form(agreeing_form(es) | {"public_access": True}, es)
    assert fields(notices) == ["public_access"]
    assert "HTTPS itself" in notices[0].message


def test_public_access_on_a_tcp_port() -> None:
    redis = entry("redis")
    notices = check_form(agreeing_form(redis) | {"public_access": True}, redis)
    assert fields(notices) == ["public_access"]
    assert "6379" in notices[0].message


def test_data_path_not_mounted() -> None:
    postgres = entry("postgres")
    elsewhere = [{"capacity": 10, "value": "/data"}]
    notices = check_form(agreeing_form(postgres) | {"storage": elsewhere}, postgres)
    assert fields(notices) == ["storage"]
    assert "/var/lib/postgresql/data" in notices[0].message


def test_no_storage_loses_data() -> None:
    postgres = entry("postgres")
    notices = check_form(agreeing_form(postgres) | {"storage": []}, postgres)
    assert fields(notices) == ["storage"]
    assert "lost" in notices[0].message


def test_a_parent_mount_keeps_the_data() -> None:
    postgres = entry("postgres")
    parent = [{"capacity": 10, "value": "/var/lib/postgresql/"}]
    assert check_form(agreeing_form(postgres) | {"storage": parent}, postgres) == []


def test_another_publishers_image_skips_name_and_path_checks() -> None:
    postgres = entry("postgres")
    form = agreeing_form(postgres) | {
        "image_name": "bitnami/postgresql:16",
        "environment": [{"name": "POSTGRESQL_PASSWORD", "value": "s3cr3t-Value-123"}],
        "storage": [{"capacity": 10, "value": "/bitnami/postgresql"}],
    }
    assert check_form(form, postgres) == []
    assert fields(check_form(form | {"storage": []}, postgres)) == ["storage"]


def test_loose_values_from_the_page_are_checked_once_normalised() -> None:
    # The service checks the form it answers with: normalised, so loose spellings are read.
    redis = entry("redis")
    form = agreeing_form(redis) | {
        "container_port": "80",
        "public_access": "true",
        "memory": "128Mi",
        "storage": [{"capacity": "1", "mountPath": "/data"}],
    }
    assert fields(check_form(normalise(form).form, redis)) == ["container_port", "memory"]
    form |= {"container_port": "6379"}
    assert fields(check_form(normalise(form).form, redis)) == ["memory", "public_access"]


# --- loading and speed --------------------------------------------------------------------------


# Counts the opens of catalog.json in a fresh process (an audit hook: nothing is patched).
_COUNT_OPENS = """
import sys
opens = []
sys.addaudithook(
    lambda event, args: opens.append(1)
    if event == "open" and str(args[0]).endswith("catalog.json") else None
)
from aiops.api import GenRequest
from aiops.app import App
from aiops.service import Generation
from aiops.settings import Settings
from aiops.store import MemoryStore
print("import", len(opens))
app = App(Settings(openai_base_url="http://127.0.0.1:9/v1"), MemoryStore())
print("start", len(opens))
form = {"app_name": "db", "image_name": "mysql:8.0"}
for said in ("把内存调到2G", "给数据库 2 核"):
    answer = Generation(GenRequest(user_input=said, params=form), "sk-test-catalogue", app).run()
    assert answer.Model == "instant", answer
print("requests", len(opens))
print("same", app.catalog is App(app.settings, app.store).catalog, len(opens))
"""


def test_the_app_loads_the_catalogue_once_at_start_and_a_fresh_app_its_own() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _COUNT_OPENS], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[:4] == [
        "import 0",  # importing reads nothing
        "start 1",  # the app reads it when it is made
        "requests 1",  # its requests use the app's, read no file
        "same False 2",  # a new app reads and owns its own
    ]


def test_each_load_is_a_new_catalogue_with_the_same_entries() -> None:
    again = catalog.load()
    assert again is not CATALOG and ids(again.entries) == ids(ENTRIES)


def long_request() -> str:
    docs = (
        "To upgrade, redistribute the configuration across servers and restart the service.\n"
        "docker run -d --name app -p 8080:8080 -e DB_HOST=db \\\n  -v data:/data acme/app:1.2\n"
        "services:\n  app:\n    image: acme/app:1.2\n"
        "帮我部署这个应用，需要数据库和缓存，配置环境变量，开放端口。\n"
    )
    return (docs * 100)[:8000]


def test_a_long_request_of_unrelated_docs_matches_only_the_current_image() -> None:
    # Its speed is measured by the bench (bench/), never asserted here.
    assert ids(CATALOG.match(long_request(), "bitnami/redis:7.2")) == ["redis"]


# --- the freshness report: python -m aiops.catalog check ---------------------------------------

LAST_CHECK = max(e.checked.on for e in ENTRIES)


def report(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = catalog_check.main(["check", *args], out=out)
    return code, out.getvalue()


def test_the_report_lists_every_entry_with_pin_source_and_date() -> None:
    code, text = report("--today", LAST_CHECK.isoformat())
    assert code == catalog_check.EXIT_FRESH
    lines = text.splitlines()
    assert len(lines) == len(ENTRIES) + 1
    for e, line in zip(ENTRIES, lines, strict=False):
        assert line.startswith("ok")
        assert e.id in line and e.image in line and e.checked.on.isoformat() in line
        assert e.checked.sources[0] in line
    assert lines[-1].startswith(f"{len(ENTRIES)} entries, 0 checked more than 180 days ago")


def test_entries_older_than_the_threshold_are_flagged_and_fail_the_run() -> None:
    later = LAST_CHECK + timedelta(days=181)
    code, text = report("--today", later.isoformat())
    assert code == catalog_check.EXIT_STALE
    assert text.count("STALE") == len(ENTRIES)
    assert "postgres" in text.splitlines()[-1]
    code, _ = report("--today", later.isoformat(), "--max-age", "365")
    assert code == catalog_check.EXIT_FRESH


def test_one_stale_entry_is_named(tmp_path: Path) -> None:
    entries = raw_entries()
    entries[3]["checked"]["on"] = (LAST_CHECK - timedelta(days=400)).isoformat()
    path = write_catalogue(tmp_path, entries)
    code, text = report("--today", LAST_CHECK.isoformat(), "--file", str(path))
    assert code == catalog_check.EXIT_STALE
    stale = [line for line in text.splitlines() if line.startswith("STALE")]
    assert len(stale) == 1 and entries[3]["id"] in stale[0]
    assert text.splitlines()[-1].endswith(f": {entries[3]['id']}")


def test_a_malformed_file_is_reported_by_entry_and_field(tmp_path: Path) -> None:
    entries = raw_entries()
    del entries[5]["checked"]
    entries[7]["checked"]["sources"] = ["somewhere"]
    path = write_catalogue(tmp_path, entries)
    code, text = report("--file", str(path))
    assert code == catalog_check.EXIT_MALFORMED
    assert "entries.5.checked: Field required" in text
    assert "entries.7.checked.sources" in text and "github:owner/name@commit:path" in text
    assert "Traceback" not in text
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    code, text = report("--file", str(broken))
    assert code == catalog_check.EXIT_MALFORMED and "Traceback" not in text


def test_a_check_date_after_today_is_reported_not_refused_at_load(tmp_path: Path) -> None:
    entries = raw_entries()
    entries[0]["checked"]["on"] = (LAST_CHECK + timedelta(days=30)).isoformat()
    path = write_catalogue(tmp_path, entries)
    assert Catalog.from_file(path).entries[0].id == entries[0]["id"]  # serving never depends on it
    code, text = report("--today", LAST_CHECK.isoformat(), "--file", str(path))
    assert code == catalog_check.EXIT_MALFORMED
    assert text.splitlines()[0].startswith("FUTURE")
    assert text.splitlines()[-1] == f"checked after {LAST_CHECK.isoformat()}: {entries[0]['id']}"


def test_the_command_runs_as_a_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "aiops.catalog", "check", "--today", LAST_CHECK.isoformat()],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == len(ENTRIES) + 1
    missing = subprocess.run(
        [sys.executable, "-m", "aiops.catalog"], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2 and "check" in missing.stderr
