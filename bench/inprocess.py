"""The in-process half of the bench, run by bench/run.py as a subprocess of its own:

    python -m bench.inprocess '<json config>'

It serves POST /gen in this process through `aiops.routes.respond(Request(...))` (no HTTP
server), with a pymongo CommandListener registered before any MongoClient exists, and counts the
store commands of every request; it does the same for the floor (`bench.floor.handle`), and
compares wall time and CPU time (`time.process_time`, all threads of the process) per request.
With `profile_requests` > 0 and pyinstrument installed, it profiles that many AIops requests.

The config: {"env": {...}, "rounds": int, "requests": int, "profile_requests": int,
"profile_dir": str}. It prints one JSON object on stdout.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Where a profile's self time goes, by file path (first match wins).
GROUPS: list[tuple[str, str]] = [
    ("/aiops/", "aiops (our code)"),
    ("/handler.py", "aiops (our code)"),
    ("/openai/", "openai SDK"),
    ("/httpx2/", "httpx2 / httpcore2 (HTTP client)"),
    ("/httpcore2/", "httpx2 / httpcore2 (HTTP client)"),
    ("/h11/", "httpx2 / httpcore2 (HTTP client)"),
    ("/pymongo/", "pymongo / bson"),
    ("/bson/", "pymongo / bson"),
    ("/pydantic_settings/", "pydantic"),
    ("/pydantic/", "pydantic"),
    ("/pydantic_core/", "pydantic"),
    ("/json_repair/", "json_repair"),
    ("/json/", "json (stdlib)"),
    ("/logging/", "logging (stdlib)"),
    ("/ssl.py", "socket I/O (waiting)"),
    ("/socket.py", "socket I/O (waiting)"),
    ("/selectors.py", "socket I/O (waiting)"),
    ("/bench/", "bench harness"),
]
WAIT_FUNCTIONS = {"recv", "recv_into", "readinto", "select", "poll", "sendall", "send", "wait", "acquire"}


class CommandCounter:
    """A pymongo CommandListener counting started commands by name."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def started(self, event: Any) -> None:
        with self.lock:
            self.counts[event.command_name] += 1

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass

    def snapshot(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(self.counts)


def _listener(counter: CommandCounter) -> Any:
    from pymongo import monitoring

    class Listener(monitoring.CommandListener):
        def started(self, event: Any) -> None:
            counter.started(event)

        def succeeded(self, event: Any) -> None:
            pass

        def failed(self, event: Any) -> None:
            pass

    return Listener()


def measure(call: Any, counter: CommandCounter) -> tuple[Any, dict[str, int], float, float]:
    """Run `call()`; its result, the store commands it sent, wall and CPU seconds."""
    before = counter.snapshot()
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = counter.snapshot()
    return result, dict(after - before), wall, cpu


def _group(path: str, function: str) -> str:
    if function in WAIT_FUNCTIONS and ("socket" in path or "<built-in>" in path or not path):
        return "socket I/O (waiting)"
    for needle, group in GROUPS:
        if needle in path:
            return group
    if "site-packages" in path:
        return "other libraries"
    return "stdlib / interpreter"


def summarise_profile(session: Any, top: int = 25) -> dict[str, Any]:
    """Self time by function and by group, from a pyinstrument session."""
    root = session.root_frame()
    by_function: dict[str, list[Any]] = {}
    by_group: collections.Counter[str] = collections.Counter()
    aiops_total: collections.Counter[str] = collections.Counter()

    def walk(frame: Any, aiops_stack: tuple[str, ...]) -> None:
        path = frame.file_path or ""
        name = f"{frame.function} ({_short(path)}:{frame.line_no})"
        if "/aiops/" in path or path.endswith("/handler.py"):
            label = f"{_short(path)}:{frame.function}"
            if label not in aiops_stack:  # count recursion once
                aiops_total[label] += frame.time
                aiops_stack = (*aiops_stack, label)
        if frame.self_time:
            entry = by_function.setdefault(name, [0.0, _group(path, frame.function)])
            entry[0] += frame.self_time
            by_group[_group(path, frame.function)] += frame.self_time
        for child in frame.children:
            walk(child, aiops_stack)

    if root is not None:
        walk(root, ())
    total = session.duration or 1e-9
    functions = sorted(by_function.items(), key=lambda item: -item[1][0])[:top]
    return {
        "duration_s": session.duration,
        "samples": session.sample_count,
        "self_time_by_group": [
            {"group": group, "seconds": seconds, "share": seconds / total}
            for group, seconds in by_group.most_common()
        ],
        "self_time_top_functions": [
            {"function": name, "group": group, "seconds": seconds, "share": seconds / total}
            for name, (seconds, group) in functions
        ],
        "aiops_functions_inclusive": [
            {"function": name, "seconds": seconds, "share": seconds / total}
            for name, seconds in aiops_total.most_common(top)
        ],
    }


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path.rsplit("/", 2)[-1] if "/" in path else path


def main(config: dict[str, Any]) -> dict[str, Any]:
    os.environ.update(config["env"])
    counter = CommandCounter()
    from pymongo import monitoring

    monitoring.register(_listener(counter))  # before any MongoClient is created

    from aiops.routes import Request, respond
    from bench import floor
    from bench.scenario import CONVERSATION, STARTING_FORM, form_of, gen_body

    def aiops_call(body: dict[str, Any]) -> Any:
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        return lambda: respond(Request("POST", "/gen", headers, data))

    def floor_call(body: dict[str, Any]) -> Any:
        data = json.dumps(body).encode()
        return lambda: floor.handle(data)

    # The parent turn (a new conversation): the first request of the process, indexes included.
    first_input, _, _ = CONVERSATION[0]
    response, first_commands, first_wall, _ = measure(
        aiops_call(gen_body(first_input, STARTING_FORM)), counter
    )
    assert response.status == 200, response.body[:500]
    parent = json.loads(response.body)
    follow_up = gen_body(CONVERSATION[1][0], form_of(parent), parent["MessageId"])

    result: dict[str, Any] = {
        "first_request": {"commands": first_commands, "wall_s": first_wall},
        "aiops": {"commands": [], "wall_s": [], "cpu_s": [], "llm_calls": [], "statuses": []},
        "floor": {"commands": [], "wall_s": [], "cpu_s": [], "statuses": []},
    }
    for _ in range(3):  # warm both paths (the floor's first call connects its own client)
        measure(aiops_call(follow_up), counter)
        measure(floor_call(follow_up), counter)
    for round_index in range(config["rounds"]):
        order = ("aiops", "floor") if round_index % 2 == 0 else ("floor", "aiops")
        for name in order:
            call = aiops_call(follow_up) if name == "aiops" else floor_call(follow_up)
            for _ in range(config["requests"]):
                answer, commands, wall, cpu = measure(call, counter)
                record = result[name]
                record["commands"].append(commands)
                record["wall_s"].append(wall)
                record["cpu_s"].append(cpu)
                if name == "aiops":
                    record["statuses"].append(answer.status)
                    usage = json.loads(answer.body).get("Usage", {}) if answer.status == 200 else {}
                    record["llm_calls"].append(usage.get("llm_calls", 0))
                else:
                    record["statuses"].append(answer[1])

    profile_requests = config.get("profile_requests", 0)
    if profile_requests:
        result["profile"] = profile(aiops_call(follow_up), profile_requests, config["profile_dir"])
    return result


def profile(call: Any, requests: int, out_dir: str) -> dict[str, Any]:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"skipped": "pyinstrument is not installed (pip install pyinstrument)"}
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    for _ in range(requests):
        call()
    profiler.stop()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.txt").write_text(profiler.output_text(unicode=True, color=False))
    (out / "profile-flat.txt").write_text(
        profiler.output_text(unicode=True, color=False, flat=True)
    )
    (out / "profile.html").write_text(profiler.output_html())
    summary = summarise_profile(profiler.last_session)
    summary["requests"] = requests
    summary["files"] = ["profile.txt", "profile-flat.txt", "profile.html"]
    return summary


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
