"""The in-process half of the bench, run by bench/run.py as a subprocess of its own:

    python -m bench.inprocess '<json config>'

It serves POST /gen in this process through `aiops.routes.respond(Request(...), handler.APP)`
(no HTTP server; `handler` is imported for its app, made and logged as in production), with
a pymongo CommandListener registered before any MongoClient exists, and counts the store commands
of every request. It does the same for the floor (`bench.floor.handle`), in alternating rounds,
and compares wall time and CPU time (`time.process_time`) per request.

Modes (config "mode"):
- "measure": the above, then (if pyinstrument is installed) a wall-time profile of
  `profile_requests` requests;
- "spin": only `profile_requests` requests inside `profiled_requests`, for py-spy to sample
  from outside (bench/run.py runs it under `py-spy record`);
- "cold": import handler, then serve config["body"] once, profiled: where a new process's first
  request goes (imports done lazily, clients, indexes, catalogue).

The config: {"mode", "env", "rounds", "requests", "profile_requests", "profile_dir",
"log_path", "body"}. It prints one JSON object on stdout.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class CommandCounter:
    """Counts started MongoDB commands by name (fed by a pymongo CommandListener)."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def started(self, event: Any) -> None:
        with self.lock:
            self.counts[event.command_name] += 1

    def snapshot(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(self.counts)


def register_listener(counter: CommandCounter) -> None:
    from pymongo import monitoring

    class Listener(monitoring.CommandListener):
        def started(self, event: Any) -> None:
            counter.started(event)

        def succeeded(self, event: Any) -> None:
            pass

        def failed(self, event: Any) -> None:
            pass

    monitoring.register(Listener())


def measure(
    call: Callable[[], Any], counter: CommandCounter
) -> tuple[Any, dict[str, int], float, float]:
    """Run `call()`; its result, the store commands it sent, wall and CPU seconds."""
    before = counter.snapshot()
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after = counter.snapshot()
    return result, dict(after - before), wall, cpu


def profiled_requests(call: Callable[[], Any], requests: int) -> None:
    """The requests a profile looks at (py-spy keeps only stacks through this function)."""
    for _ in range(requests):
        call()


def first_request(config: dict[str, Any], counter: CommandCounter) -> dict[str, Any]:
    """Mode "cold": what a new process spends before its first answer, profiled (wall time)."""
    started = time.perf_counter()
    import handler

    imported = time.perf_counter() - started
    from aiops.routes import Request, respond

    data = json.dumps(config["body"]).encode()
    headers = {"content-type": "application/json"}
    call = lambda: respond(Request("POST", "/gen", headers, data), handler.APP)  # noqa: E731
    result: dict[str, Any] = {"import_handler_ms": imported * 1000}
    profiler = None
    if config.get("profile_first"):
        try:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005, async_mode="disabled")
        except ImportError:
            pass
    if profiler:
        profiler.start()
    response, commands, wall, cpu = measure(call, counter)
    if profiler:
        profiler.stop()
        from bench.profiles import summarise_pyinstrument

        summary = summarise_pyinstrument(profiler.last_session, top=40)
        result["first_request_profile"] = {
            "by_group_share": {g["group"]: g["share"] for g in summary["self_time_by_group"]},
            "aiops_functions_share": {
                f["function"]: f["share"] for f in summary["aiops_functions_inclusive"]
            },
        }
    if response.status != 200:
        raise RuntimeError(f"the first request answered {response.status}: {response.body[:500]!r}")
    _, _, second_wall, _second_cpu = measure(call, counter)
    result.update(
        first_request_ms=wall * 1000,
        first_request_cpu_ms=cpu * 1000,
        first_request_commands=commands,
        second_request_ms=second_wall * 1000,
        modules_loaded=len(sys.modules),
    )
    return result


def main(config: dict[str, Any]) -> dict[str, Any]:
    os.environ.update(config["env"])
    counter = CommandCounter()
    register_listener(counter)  # before any MongoClient is created
    if config.get("mode") == "cold":
        return first_request(config, counter)

    import handler  # its app, and the JSON request log, as in production
    from aiops.routes import Request, respond
    from bench import floor
    from bench.scenario import CONVERSATION, STARTING_FORM, form_of, gen_body

    def aiops_call(body: dict[str, Any]) -> Callable[[], Any]:
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json"}
        return lambda: respond(Request("POST", "/gen", headers, data), handler.APP)

    def floor_call(body: dict[str, Any]) -> Callable[[], Any]:
        data = json.dumps(body).encode()
        return lambda: floor.handle(data)

    # The parent turn (a new conversation): the first request of the process, indexes included.
    response, first_commands, first_wall, _ = measure(
        aiops_call(gen_body(CONVERSATION[0][0], STARTING_FORM)), counter
    )
    if response.status != 200:
        raise RuntimeError(f"the first request answered {response.status}: {response.body[:500]!r}")
    parent = json.loads(response.body)
    follow_up = gen_body(CONVERSATION[1][0], form_of(parent), parent["MessageId"])
    for _ in range(3):  # warm both paths (the floor's first call connects its own client)
        measure(aiops_call(follow_up), counter)
        measure(floor_call(follow_up), counter)

    if config.get("mode") == "spin":
        target = aiops_call if config.get("target", "aiops") == "aiops" else floor_call
        started = time.process_time()
        profiled_requests(target(follow_up), config["profile_requests"])
        cpu = time.process_time() - started
        return {
            "requests": config["profile_requests"],
            "cpu_ms_per_request": cpu / config["profile_requests"] * 1000,
        }

    from pymongo import MongoClient

    trimmer: MongoClient = MongoClient(os.environ["MONGODB_URI"])
    messages = trimmer[os.environ.get("AIOPS_MONGODB_DB", "aiops")]["messages"]

    def trim() -> None:
        """Keep only the parent turn: mongoeco slows down as the collection grows (see
        bench/run.py, Bench.trim_store). Its commands are sent outside `measure`."""
        keep = [parent["MessageId"], config["body"]["parent_message_id"]]  # ours, the bench's
        messages.delete_many({"_id": {"$nin": keep}})

    result: dict[str, Any] = {
        "first_request": {"commands": first_commands, "wall_s": first_wall},
        "aiops": {"commands": [], "wall_s": [], "cpu_s": [], "llm_calls": [], "statuses": []},
        "floor": {"commands": [], "wall_s": [], "cpu_s": [], "statuses": []},
    }
    for round_index in range(config["rounds"]):
        order = ("aiops", "floor") if round_index % 2 == 0 else ("floor", "aiops")
        for name in order:
            call = aiops_call(follow_up) if name == "aiops" else floor_call(follow_up)
            record = result[name]
            trim()
            for _ in range(config["requests"]):
                answer, commands, wall, cpu = measure(call, counter)
                record["commands"].append(commands)
                record["wall_s"].append(wall)
                record["cpu_s"].append(cpu)
                if name == "aiops":
                    record["statuses"].append(answer.status)
                    usage = json.loads(answer.body).get("Usage", {}) if answer.status == 200 else {}
                    record["llm_calls"].append(usage.get("llm_calls", 0))
                else:
                    record["statuses"].append(answer[1])

    if config.get("profile_requests"):
        trim()
        result["profile"] = wall_profile(
            aiops_call(follow_up), config["profile_requests"], Path(config["profile_dir"])
        )
    return result


def wall_profile(call: Callable[[], Any], requests: int, out: Path) -> dict[str, Any]:
    """pyinstrument (wall time: waiting on the store and the model included)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"skipped": "pyinstrument is not installed (pip install pyinstrument)"}
    from bench.profiles import summarise_pyinstrument

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    started = time.perf_counter()
    profiler.start()
    profiled_requests(call, requests)
    profiler.stop()
    wall = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile-wall.txt").write_text(profiler.output_text(unicode=True, color=False))
    (out / "profile-wall.html").write_text(profiler.output_html())
    summary = summarise_pyinstrument(profiler.last_session)
    summary.update(
        requests=requests,
        wall_ms_per_request=wall / requests * 1000,
        files=["profile-wall.txt", "profile-wall.html"],
    )
    return summary


if __name__ == "__main__":
    arguments = json.loads(sys.argv[1])
    real_stdout = sys.stdout
    # AIops logs one JSON line per request to stdout, as in production: keep that cost, but
    # send the lines to a file so that stdout carries only the result.
    with open(arguments.get("log_path", os.devnull), "a") as log_file:
        sys.stdout = log_file
        try:
            outcome = main(arguments)
        finally:
            sys.stdout = real_stdout
    print(json.dumps(outcome))
