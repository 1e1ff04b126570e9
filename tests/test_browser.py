"""The reference page (examples/) in a real browser: Debian's Chromium driven by Playwright.

The page is served from one loopback origin and the service (the real functions-framework
server, the scripted model behind it) from another, so the browser really sends the CORS
preflight; a third origin, not in AIOPS_CORS_ORIGINS, is refused by the browser. The service's
own copy of the page (GET /) is driven too. A screenshot of each state is saved under
test-artifacts/browser/ (or $AIOPS_TEST_ARTIFACTS/browser/), which git ignores.

Chromium missing is a failure, not a skip, as with every other tool the tests need:
`apt-get install chromium fonts-wqy-microhei` (.ci/run does it when /usr/bin/chromium is
missing); `AIOPS_CHROMIUM` names another Chromium binary.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from tests.fixtures.app import FAKE_KEY, ROOT, START_FORM, LiveServer, start_live_server
from tests.fixtures.model_server import Scripted, ScriptedModel

# Debian's Chromium; AIOPS_CHROMIUM names another build (e.g. Playwright's own, where reachable).
CHROMIUM = os.environ.get("AIOPS_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("AIOPS_TEST_ARTIFACTS") or ROOT / "test-artifacts") / "browser"
EXAMPLES = {
    e["name"]: e
    for e in json.loads((ROOT / "tests" / "data" / "original_examples.json").read_text())[
        "examples"
    ]
}
MEMORY_2G = json.dumps(
    {
        "changes": [{"field": "memory", "value": "2G"}],
        "reply": "已将内存调到 2G。",
        "questions": [],
    },
    ensure_ascii=False,
)
RENAME = json.dumps(
    {
        "changes": [{"field": "app_name", "value": "orders-db"}],
        "reply": "已将应用名称改为 orders-db。",
        "questions": ["数据库需要开放公网访问吗？"],
    },
    ensure_ascii=False,
)
# What the page shows before any generation (its fields' initial values).
PAGE_START_FORM = {
    **START_FORM,
    "command": "",
    "parameters": "",
    "environment": [],
    "configmap": [],
    "storage": [],
}


# --- servers ---------------------------------------------------------------------------------


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@functools.cache
def _examples_handler() -> Any:
    return functools.partial(_QuietFiles, directory=str(ROOT / "examples"))


@pytest.fixture(scope="module")
def page_origins() -> Iterator[tuple[str, str]]:
    """Two static file servers of examples/: the allowed origin and one the service refuses."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _examples_handler()) for _ in range(2)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    allowed, refused = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    yield allowed, refused
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def service(
    _model_server: ScriptedModel,
    page_origins: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """The real server, allowing only the first page origin."""
    env = {"OPENAI_BASE_URL": _model_server.base_url, "AIOPS_CORS_ORIGINS": page_origins[0]}
    server = start_live_server(env, tmp_path_factory.mktemp("browser") / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install it with `apt-get install chromium fonts-wqy-microhei`"
            " (.ci/run does this)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield tab
    context.close()
    assert problems == []


# --- helpers ---------------------------------------------------------------------------------


def open_page(tab: Page, url: str) -> None:
    tab.goto(url)
    tab.wait_for_selector("body[data-ai-ready=true]")


def shot(tab: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def generate(tab: Page, text: str) -> tuple[Request, Any]:
    """Type `text`, click "AI 生成", wait until the page has shown the answer; the POST the page
    sent and the answer's JSON (None when no answer could be read)."""
    tab.fill("#ai-input", text)
    with tab.expect_request(lambda r: r.url.endswith("/gen") and r.method == "POST") as sent:
        tab.click("#ai-generate")
    tab.wait_for_selector("body[data-ai-state=done], body[data-ai-state=error]")
    request = sent.value
    response = request.response()
    return request, response.json() if response is not None else None


def value(tab: Page, selector: str) -> str:
    return tab.input_value(selector)


def rows(tab: Page, name: str) -> list[dict[str, str]]:
    return tab.eval_on_selector_all(
        f"[name={name}] [data-item]",
        """rows => rows.map(row => Object.fromEntries(
            [...row.querySelectorAll('[data-key]')].map(el => [el.dataset.key, el.value])))""",
    )


def changed(tab: Page) -> set[str]:
    return set(tab.eval_on_selector_all("#ai-form [data-changed]", "els => els.map(el => el.name)"))


def texts(tab: Page, selector: str) -> list[str]:
    return [text.strip() for text in tab.locator(selector).all_inner_texts()]


def posts_logged(server: LiveServer) -> int:
    """How many POST /gen the service has answered."""
    return sum(1 for e in logged(server) if (e["method"], e["path"]) == ("POST", "/gen"))


def logged(server: LiveServer) -> list[dict[str, Any]]:
    """The service's request log lines."""
    lines = []
    for line in server.output().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message") == "request":
                lines.append(entry)
    return lines


def key_kept_nowhere(tab: Page) -> None:
    """The key is in no storage, cookie or URL of the page."""
    storage = tab.evaluate(
        "() => [location.href, document.cookie, JSON.stringify(localStorage),"
        " JSON.stringify(sessionStorage)]"
    )
    assert all(FAKE_KEY not in part for part in storage), storage
    assert storage[1:] == ["", "{}", "{}"]


# --- the scenario ----------------------------------------------------------------------------


def test_a_conversation_from_another_origin(
    page: Page, service: LiveServer, model: ScriptedModel, page_origins: tuple[str, str]
) -> None:
    allowed, _ = page_origins
    open_page(page, f"{allowed}/index.html?api={service.url}")
    assert page.inner_text("#ai-service") == f"{service.url}/gen"
    shot(page, "01-start")
    page.fill("#ai-key", FAKE_KEY)

    # Turn 1: a new conversation.
    before = len(logged(service))
    model.reply(EXAMPLES["simple_deploy"]["raw_model_output"])
    request, answer = generate(page, "请帮我部署一个mysql")
    assert page.get_attribute("body", "data-ai-state") == "done", page.inner_text("#ai-error")

    sent = request.post_data_json
    assert sent == {"user_input": "请帮我部署一个mysql", "params": PAGE_START_FORM}
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"
    # The browser asked first (preflight), and the service allowed exactly this origin.
    calls = [(e["method"], e["path"], e["status"]) for e in logged(service)[before:]]
    assert calls == [("OPTIONS", "/gen", 204), ("POST", "/gen", 200)]
    assert request.response().headers["access-control-allow-origin"] == allowed

    assert value(page, "[name=image_name]") == "mysql"
    assert value(page, "[name=container_port]") == "3306"
    assert value(page, "[name=memory]") == "1G"
    assert rows(page, "storage") == [{"capacity": "10", "value": "/var/lib/mysql"}]
    form = json.loads(answer["GenParamsStr"])
    assert rows(page, "environment") == form["environment"]
    assert form["environment"][0]["name"] == "MYSQL_ROOT_PASSWORD"
    assert changed(page) == set(answer["Changes"]) >= {"image_name", "container_port", "storage"}
    assert page.inner_text("#ai-reply") == answer["Reply"] != ""
    warnings = page.locator("#ai-warnings li")
    assert warnings.count() == len(answer["Warnings"]) > 0
    for index, warning in enumerate(answer["Warnings"]):
        shown = warnings.nth(index)
        assert shown.get_attribute("data-field") == warning["field"]
        assert warning["message"] in shown.inner_text()
        if warning.get("code"):
            assert shown.get_attribute("data-code") == warning["code"]
            assert warning["code"] in shown.inner_text()
    assert texts(page, "#ai-questions li") == answer["Questions"] == []
    first_id = answer["MessageId"]
    assert page.get_attribute("#ai-conversation", "data-message-id") == first_id
    assert page.input_value("#ai-input") == ""
    key_kept_nowhere(page)
    shot(page, "02-mysql")

    # Turn 2: continues the same conversation with the form the page now shows. An exact edit:
    # the service makes it itself (README "Instant edits"), without asking the model.
    asked = len(model.completions)
    request, answer = generate(page, "把内存调到2G")
    sent = request.post_data_json
    assert sent["parent_message_id"] == first_id
    assert sent["params"] == form  # what the page shows: the first answer
    assert len(model.completions) == asked and answer["Model"] == "instant"
    assert value(page, "[name=memory]") == "2G"
    assert value(page, "[name=image_name]") == "mysql"
    assert changed(page) == {"memory"}
    assert page.inner_text("#ai-reply") == answer["Reply"] != ""
    second_id = answer["MessageId"]
    assert second_id != first_id
    assert page.get_attribute("#ai-conversation", "data-message-id") == second_id
    shot(page, "03-memory-2g")

    # Turn 3: the model's again, and it is told both earlier turns.
    model.reply(json.dumps({"changes": [], "reply": "这样就可以了。", "questions": []}))
    request, answer = generate(page, "现在这样可以了吗？")
    assert request.post_data_json["parent_message_id"] == second_id
    history = json.dumps(model.completions[-1]["messages"], ensure_ascii=False)
    assert "请帮我部署一个mysql" in history and "把内存调到2G" in history
    assert page.inner_text("#ai-reply") == "这样就可以了。"
    assert changed(page) == set()
    assert page.get_attribute("#ai-conversation", "data-message-id") == answer["MessageId"]

    # Reset: the conversation is forgotten, the form stays as it is.
    page.click("#ai-reset")
    assert page.get_attribute("#ai-conversation", "data-message-id") == ""
    assert page.inner_text("#ai-reply") == ""
    assert page.locator("#ai-warnings li").count() == 0
    assert changed(page) == set()
    assert value(page, "[name=memory]") == "2G"
    shot(page, "04-reset")

    model.reply(RENAME)
    request, answer = generate(page, "给这个数据库起个更贴切的名字")
    assert "parent_message_id" not in request.post_data_json
    history = json.dumps(model.completions[-1]["messages"], ensure_ascii=False)
    assert "请帮我部署一个mysql" not in history and "把内存调到2G" not in history
    assert value(page, "[name=app_name]") == "orders-db"
    assert texts(page, "#ai-questions li") == ["数据库需要开放公网访问吗？"]
    assert page.get_attribute("#ai-conversation", "data-message-id") == answer["MessageId"]
    key_kept_nowhere(page)
    shot(page, "05-new-conversation")


def test_errors_are_shown_by_code(
    page: Page, service: LiveServer, model: ScriptedModel, page_origins: tuple[str, str]
) -> None:
    open_page(page, f"{page_origins[0]}/index.html?api={service.url}")

    # No key: the service answers missing_token without asking the model.
    _, answer = generate(page, "请帮我部署一个mysql")
    assert page.get_attribute("#ai-error", "data-code") == "missing_token" == answer["code"]
    assert model.requests == []

    # The provider refuses the key.
    page.fill("#ai-key", FAKE_KEY)
    model.fail(401, f"Incorrect API key provided: {FAKE_KEY}")
    _, answer = generate(page, "请帮我部署一个mysql")
    assert answer["code"] == "invalid_token"
    assert page.get_attribute("body", "data-ai-state") == "error"
    error = page.locator("#ai-error")
    assert error.is_visible()
    assert error.get_attribute("data-code") == "invalid_token"
    assert "invalid_token" in error.inner_text()
    assert answer["error"] in error.inner_text()
    assert page.get_attribute("#ai-key", "aria-invalid") == "true"
    assert FAKE_KEY not in page.content().replace(f'value="{FAKE_KEY}"', "")
    # The form was left as it was.
    assert value(page, "[name=image_name]") == "nginx"
    shot(page, "06-invalid-token")

    # Rate limited: the page says when to try again (Retry-After, exposed by CORS).
    model.fail(429, "Rate limit reached", headers={"Retry-After": "17"})
    generate(page, "请帮我部署一个mysql")
    assert error.get_attribute("data-code") == "rate_limited"
    assert "17 秒" in error.inner_text()
    assert page.get_attribute("#ai-key", "aria-invalid") is None

    # A value the service cannot read: 400 with the field, which the page marks.
    asked = len(model.requests)
    page.fill("[name=instance]", "")
    _, answer = generate(page, "请帮我部署一个mysql")
    assert (answer["code"], answer["field"]) == ("invalid_request", "params.instance")
    assert error.get_attribute("data-code") == "invalid_request"
    assert answer["error"] in error.inner_text()
    assert page.get_attribute("[name=instance]", "aria-invalid") == "true"
    assert len(model.requests) == asked


def test_an_origin_not_allowed_is_refused_by_the_browser(
    page: Page, service: LiveServer, model: ScriptedModel, page_origins: tuple[str, str]
) -> None:
    _, refused = page_origins
    open_page(page, f"{refused}/index.html?api={service.url}")
    page.fill("#ai-key", FAKE_KEY)
    before = len(logged(service))
    page.fill("#ai-input", "请帮我部署一个mysql")
    with page.expect_event("requestfailed"):
        page.click("#ai-generate")
    page.wait_for_selector("body[data-ai-state=error]")

    assert page.get_attribute("#ai-error", "data-code") == "network_error"
    assert "AIOPS_CORS_ORIGINS" in page.inner_text("#ai-error")
    # The browser sent the preflight, saw no Access-Control-Allow-Origin, and never POSTed.
    calls = [(e["method"], e["path"]) for e in logged(service)[before:]]
    assert calls == [("OPTIONS", "/gen")]
    assert model.requests == []
    assert value(page, "[name=image_name]") == "nginx"
    shot(page, "07-origin-refused")


def test_the_service_serves_the_page_itself(
    page: Page, service: LiveServer, model: ScriptedModel
) -> None:
    open_page(page, f"{service.url}/")
    assert page.inner_text("#ai-service") == f"{service.url}/gen"
    page.fill("#ai-key", FAKE_KEY)
    model.reply(EXAMPLES["simple_deploy"]["raw_model_output"])
    before = len(logged(service))
    _, answer = generate(page, "请帮我部署一个mysql")
    assert page.get_attribute("body", "data-ai-state") == "done", page.inner_text("#ai-error")
    assert value(page, "[name=image_name]") == json.loads(answer["GenParamsStr"])["image_name"]
    assert value(page, "[name=image_name]") == "mysql"
    # Same origin: no preflight.
    calls = [(e["method"], e["path"]) for e in logged(service)[before:]]
    assert calls == [("POST", "/gen")]
    shot(page, "08-served-by-the-service")


def test_the_services_copy_sends_the_key_only_to_its_own_service(
    browser: Browser, service: LiveServer, model: ScriptedModel, page_origins: tuple[str, str]
) -> None:
    """A link to the service's page with ?api= elsewhere cannot make it send the key there."""
    context = browser.new_context()
    tab = context.new_page()
    blocked: list[str] = []
    tab.on("console", lambda message: blocked.append(message.text))
    try:
        elsewhere = page_origins[0]
        open_page(tab, f"{service.url}/?api={elsewhere}")
        tab.fill("#ai-key", FAKE_KEY)
        tab.fill("#ai-input", "请帮我部署一个mysql")
        tab.click("#ai-generate")
        tab.wait_for_selector("body[data-ai-state=error]")
        assert tab.get_attribute("#ai-error", "data-code") == "network_error"
        assert any("Content Security Policy" in text and "connect-src" in text for text in blocked)
        assert model.requests == []
    finally:
        context.close()


def test_the_client_by_itself(
    page: Page, service: LiveServer, model: ScriptedModel, page_origins: tuple[str, str]
) -> None:
    """aiops-client.js in the browser, on what can go wrong besides the service's own errors."""
    allowed, _ = page_origins
    open_page(page, f"{allowed}/index.html")
    model.reply(Scripted(content=MEMORY_2G, delay_s=2))
    posts = posts_logged(service)
    results = page.evaluate(
        """async ([own, service, key]) => {
            const { generate, retryAfterSeconds } = await import("./aiops-client.js");
            const failure = (options) => generate({ key, userInput: "x", form: {}, ...options })
                .then(() => null, (error) => ({ name: error.name, code: error.code,
                                                status: error.status, message: error.message }));
            const cancelled = new AbortController();
            cancelled.abort();
            return {
                // The static file server is no AIops service: it answers POST with an HTML 501.
                notAiops: await failure({ api: own }),
                nothingListening: await failure({ api: "http://127.0.0.1:9" }),
                slow: await failure({ api: service, timeoutMs: 300 }),
                cancelled: await failure({ api: service, signal: cancelled.signal }),
                retryAfter: [retryAfterSeconds("17"), retryAfterSeconds(null),
                             retryAfterSeconds("soon"),
                             retryAfterSeconds(new Date(Date.now() + 30000).toUTCString())],
            };
        }""",
        [allowed, service.url, FAKE_KEY],
    )
    assert results["notAiops"]["name"] == "AiopsError"
    assert (results["notAiops"]["code"], results["notAiops"]["status"]) == ("bad_response", 501)
    assert results["nothingListening"]["code"] == "network_error"
    assert "http://127.0.0.1:9/gen" in results["nothingListening"]["message"]
    assert results["slow"]["code"] == "client_timeout"
    assert results["cancelled"]["code"] == "aborted"
    retry_after = results["retryAfter"]
    assert retry_after[:3] == [17, None, None]
    assert 28 <= retry_after[3] <= 30
    # The service still answers the request the client gave up on: let it, so that its log
    # line does not land in a later test's window.
    give_up_at = time.monotonic() + 30  # a hang guard, not a timing assertion
    while posts_logged(service) == posts and time.monotonic() < give_up_at:
        time.sleep(0.1)
    assert posts_logged(service) == posts + 1


def test_what_the_user_typed_is_what_is_sent(
    page: Page, service: LiveServer, model: ScriptedModel, page_origins: tuple[str, str]
) -> None:
    open_page(page, f"{page_origins[0]}/index.html?api={service.url}")
    page.fill("#ai-key", FAKE_KEY)
    page.fill("[name=cpu]", "0.5")
    page.check("[name=public_access]")
    page.click("fieldset[name=environment] [data-add]")
    page.fill("[name=environment] [data-item] [data-key=name]", "TZ")
    page.fill("[name=environment] [data-item] [data-key=value]", "Asia/Shanghai")
    page.click("fieldset[name=storage] [data-add]")
    page.click("fieldset[name=storage] [data-add]")
    page.fill("[name=storage] [data-item] [data-key=capacity]", "5")
    page.fill("[name=storage] [data-item] [data-key=value]", "/data")
    page.click("[name=storage] [data-item]:nth-child(2) [data-remove]")  # the empty one
    model.reply(json.dumps({"changes": [], "reply": "没有需要修改的。", "questions": []}))
    request, answer = generate(page, "看看就好")
    assert request.post_data_json["params"] == {
        **PAGE_START_FORM,
        "cpu": 0.5,
        "public_access": True,
        "environment": [{"name": "TZ", "value": "Asia/Shanghai"}],
        "storage": [{"capacity": 5, "value": "/data"}],
    }
    assert answer["Changes"] == {}
    assert changed(page) == set()
    assert page.is_checked("[name=public_access]")
    assert rows(page, "environment") == [{"name": "TZ", "value": "Asia/Shanghai"}]


def test_loading_the_page_asks_the_service_for_nothing_else(
    page: Page, service: LiveServer
) -> None:
    before = len(logged(service))
    open_page(page, f"{service.url}/")
    page.wait_for_load_state("networkidle")
    calls = [(e["method"], e["path"], e["status"]) for e in logged(service)[before:]]
    assert calls == [("GET", "/", 200), ("GET", "/aiops-client.js", 200)]
