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


def main(config: dict[str, Any]) -> dict[str, Any]:
    os.environ.update(config["env"])
    counter = CommandCounter()
    from pymongo import monitoring

    monitoring.register(_listener(counter))  # before any MongoClient is created

    import handler  # noqa: F401  (configures the JSON request log, as in production)
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
    """pyinstrument twice over `requests` requests: wall time (waiting included), then CPU time
    of this thread (`time.thread_time` as the sampler's clock: waiting costs nothing)."""
    try:
        from pyinstrument import Profiler
        from pyinstrument.stack_sampler import get_stack_sampler
    except ImportError:
        return {"skipped": "pyinstrument is not installed (pip install pyinstrument)"}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"requests": requests}
    sampler = get_stack_sampler()
    for kind, clock in (("wall", None), ("cpu", time.thread_time)):
        sampler.timer_func = clock
        profiler = Profiler(interval=0.0002 if clock else 0.0005, async_mode="disabled")
        cpu_before = time.thread_time()
        profiler.start()
        for _ in range(requests):
            call()
        profiler.stop()
        cpu_ms = (time.thread_time() - cpu_before) / requests * 1000
        sampler.timer_func = None
        (out / f"profile-{kind}.txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=False)
        )
        (out / f"profile-{kind}.html").write_text(profiler.output_html())
        summary = summarise_profile(profiler.last_session)
        summary["per_request_ms"] = summary["duration_s"] / requests * 1000
        summary["thread_cpu_ms_per_request"] = cpu_ms
        result[kind] = summary
    result["files"] = [f"profile-{k}.{e}" for k in ("wall", "cpu") for e in ("txt", "html")]
    return result


if __name__ == "__main__":
    arguments = json.loads(sys.argv[1])
    real_stdout = sys.stdout
    # AIops logs one JSON line per request to stdout, as in production: keep that cost, but
    # send the lines to a file so that stdout carries only the result.
    with open(arguments.get("log_path", os.devnull), "w") as log_file:
        sys.stdout = log_file
        try:
            outcome = main(arguments)
        finally:
            sys.stdout = real_stdout
    print(json.dumps(outcome))
