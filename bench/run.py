"""The performance bench of AIops, one command:

    python -m bench.run            # full: ~5 minutes on 2 cores
    python -m bench.run --quick    # fewer rounds: ~1.5 minutes
    python bench/run.py --smoke    # a tiny end-to-end run (the smoke test uses it)

It starts, on loopback only: the mongoeco MongoDB wire server (as tests/fixtures/mongo.py does),
the scripted Chat Completions server of the tests, and functions-framework servers (gunicorn, as
production runs them) for handler.py:gen and for the floor functions bench/floor.py and
bench/bare.py. Then it measures, side by side in one run, in alternating rounds:

1. overhead: latency of POST /gen (a conversation continuation) against the floor function;
2. round trips per request: store commands (pymongo command monitoring, in process) and model
   calls (the scripted model's request log);
3. cold start: process start to the first answered /gen, and `python -X importtime`, against a
   bare function importing the same SDKs;
4. tokens: the prompts of the original examples and of a 10-turn conversation, the static prefix,
   and the completion of a patch against a full form;
5. throughput at concurrency 8, 16, 32 with a 200 ms model against the ideal, and memory;
6. instant edits: an exact edit answered without the model, against the model path and the floor
   (one server with the default settings; §1-5 run with AIOPS_INSTANT_EDITS=false);
then profiles the in-process path with pyinstrument. It writes bench/results/latest.json and
latest.md, and prints the Markdown summary.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import harness, scenario  # noqa: E402
from bench import tokens as tokens_module  # noqa: E402
from bench.harness import (  # noqa: E402
    Client,
    Server,
    closed_loop,
    median,
    memory_kib,
    percentile,
    ratio,
    rounded,
)
from bench.report import markdown  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DB_NAME = "aiops_bench"

GOALS = {
    "overhead_p50_ratio": 1.2,
    "cold_start_ratio": 1.15,
    "mysql_prompt_tokens": 1500,
    "history_tokens_per_turn": 120,
    "store_reads": 1,
    "store_writes": 1,
    "model_calls": 1,
}

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "warmup": 20,
        "overhead_rounds": 6,
        "overhead_requests": 60,
        "inprocess_rounds": 4,
        "inprocess_requests": 50,
        "profile_requests": 300,
        "cold_rounds": 5,
        "import_rounds": 5,
        "throughput_levels": [8, 16, 32],
        "throughput_seconds": 6.0,
        "throughput_rounds": 2,
        "threads_sweep": [32],
        "memory_requests": 1000,
        "model_delay_s": 0.2,
    },
    "quick": {
        "warmup": 10,
        "overhead_rounds": 3,
        "overhead_requests": 30,
        "inprocess_rounds": 2,
        "inprocess_requests": 30,
        "profile_requests": 100,
        "cold_rounds": 3,
        "import_rounds": 3,
        "throughput_levels": [8, 16, 32],
        "throughput_seconds": 2.5,
        "throughput_rounds": 1,
        "threads_sweep": [32],
        "memory_requests": 300,
        "model_delay_s": 0.2,
    },
    # A tiny end-to-end run (tests/test_bench.py): every phase and every section of the report,
    # a handful of requests each; no untimed cold-start round, the first request's breakdown
    # from the profiled run only, the CPU profile of AIops only, the recogniser's phrasings
    # timed once.
    "smoke": {
        "cold_warmup": False,
        "cold_breakdowns": 0,
        "profile_targets": ["aiops"],
        "recogniser_repeat": 1,
        "warmup": 2,
        "overhead_rounds": 2,
        "overhead_requests": 3,
        "inprocess_rounds": 2,
        "inprocess_requests": 2,
        "profile_requests": 3,
        "cold_rounds": 1,
        "import_rounds": 1,
        "throughput_levels": [8],
        "throughput_seconds": 0.5,
        "throughput_rounds": 1,
        "memory_requests": 20,
        "model_delay_s": 0.2,
    },
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the environment of one run -------------------------------------------------------------


class Bench:
    """The shared servers of one run: the store, the model, and helpers to start functions."""

    def __init__(self, work: Path, config: dict[str, Any]) -> None:
        self.work = work
        self.config = config
        self.model_delay_s = 0.0
        log("starting the scripted model and the MongoDB wire server (mongoeco)")
        self.model_server, self.model = harness.start_model()
        self.model.responder = self._respond
        self.mongo = harness.start_mongo(work)
        self.env = {
            "MONGODB_URI": self.mongo.uri,
            "AIOPS_MONGODB_DB": DB_NAME,
            "OPENAI_BASE_URL": self.model.base_url,
            # §1-5 measure the model path: every request reaches the model. The instant phase
            # starts its own server with the default (instant edits on).
            "AIOPS_INSTANT_EDITS": "false",
        }
        self.keep: list[str] = []  # more turns trim_store keeps (the instant phase's parent)
        self.floor_prompt = work / "floor-prompt.json"
        self.parent: dict[str, Any] = {}
        self.follow_up: dict[str, Any] = {}

    def _respond(self, body: dict[str, Any]) -> Any:
        from tests.fixtures.model_server import Scripted

        return Scripted(content=scenario.answer_for(body), delay_s=self.model_delay_s)

    def model_log(self) -> list[dict[str, Any]]:
        with self.model._lock:
            return list(self.model.requests)

    def clear_model_log(self) -> None:
        with self.model._lock:
            self.model.requests.clear()
            self.model.headers.clear()

    def server(self, name: str) -> Server:
        sources = {
            "aiops": (ROOT / "handler.py", "gen", {}),
            "aiops-instant": (ROOT / "handler.py", "gen", {"AIOPS_INSTANT_EDITS": "true"}),
            "floor": (
                BENCH_DIR / "floor.py",
                "floor",
                {"BENCH_FLOOR_PROMPT": str(self.floor_prompt)},
            ),
            "bare": (BENCH_DIR / "bare.py", "bare", {}),
        }
        source, target, extra = sources[name]
        return Server(name, source, target, {**self.env, **extra}, self.work / f"{name}.log")

    def trim_store(self) -> int:
        """Delete every turn but the conversation the requests continue.

        mongoeco (SQLite) gets slower as the collection grows: an insert costs ~3 ms with one
        document and ~30 ms with 3,000, and a find on `_id` plus another field scans the
        collection. A real MongoDB does neither; keeping the collection small keeps the figures
        about the service, not about the test server."""
        from pymongo import MongoClient

        keep = ([self.parent["MessageId"]] if self.parent else []) + self.keep
        client: MongoClient = MongoClient(self.mongo.uri, serverSelectionTimeoutMS=5000)
        try:
            return client[DB_NAME]["messages"].delete_many({"_id": {"$nin": keep}}).deleted_count
        finally:
            client.close()

    def close(self) -> None:
        self.model_server.shutdown()
        self.mongo.stop()


def ready_gen(server: Server) -> bool:
    if not harness.listening(server):
        return False
    client = Client(server.url, timeout_s=5)
    try:
        status, _, _ = client.request("GET", "/healthz")
        return status == 200
    except OSError:
        return False
    finally:
        client.close()


def path_of(name: str) -> str:
    return "/gen" if name == "aiops" else "/"


# --- setup: the conversation every measured request continues -------------------------------


def prepare(bench: Bench, aiops: Server) -> dict[str, Any]:
    """Start a conversation (the mysql example), continue it once, and hand the floor a prompt of
    the same size as AIops' prompt for that continuation."""
    client = Client(aiops.url)
    first_input = scenario.CONVERSATION[0][0]
    status, parent, _ = client.post_json(
        "/gen", scenario.gen_body(first_input, scenario.STARTING_FORM)
    )
    if status != 200:
        raise RuntimeError(f"the first /gen failed: {status} {parent}")
    bench.parent = parent
    bench.follow_up = scenario.gen_body(
        scenario.CONVERSATION[1][0], scenario.form_of(parent), parent["MessageId"]
    )
    bench.clear_model_log()
    status, answer, _ = client.post_json("/gen", bench.follow_up)
    client.close()
    if status != 200:
        raise RuntimeError(f"the continuation failed: {status} {answer}")
    request = bench.model_log()[-1]
    messages = request["messages"]
    static = "\n\n".join(str(m["content"]) for m in messages[:-1])
    bench.floor_prompt.write_text(
        json.dumps({"system": static, "response_format": request.get("response_format")})
    )
    return {
        "aiops_prompt_chars": sum(len(str(m["content"])) for m in messages),
        "aiops_messages": len(messages),
    }


# --- 1. overhead ----------------------------------------------------------------------------


def phase_overhead(bench: Bench, servers: dict[str, Server]) -> dict[str, Any]:
    cfg = bench.config
    body = json.dumps(bench.follow_up).encode()
    clients = {name: Client(server.url) for name, server in servers.items()}
    for name, client in clients.items():  # warm up: lazy imports, pools, first connections
        for _ in range(cfg["warmup"]):
            status, data, _ = client.request("POST", path_of(name), body)
            if status != 200:
                raise RuntimeError(f"{name} answered {status}: {data[:300]!r}")
    bench.clear_model_log()
    rounds: list[dict[str, Any]] = []
    pooled: dict[str, list[float]] = {"aiops": [], "floor": []}
    for index in range(cfg["overhead_rounds"]):
        order = ("aiops", "floor") if index % 2 == 0 else ("floor", "aiops")
        row: dict[str, Any] = {"order": list(order)}
        for name in order:
            bench.trim_store()  # each block starts from the same store
            latencies = []
            for _ in range(cfg["overhead_requests"]):
                status, data, elapsed = clients[name].request("POST", path_of(name), body)
                if status != 200:
                    raise RuntimeError(f"{name} answered {status}: {data[:300]!r}")
                latencies.append(elapsed * 1000)
            pooled[name] += latencies
            row[name] = {"p50_ms": percentile(latencies, 50), "p90_ms": percentile(latencies, 90)}
        row["p50_ratio"] = ratio(row["aiops"]["p50_ms"], row["floor"]["p50_ms"])
        row["p90_ratio"] = ratio(row["aiops"]["p90_ms"], row["floor"]["p90_ms"])
        rounds.append(row)
    for client in clients.values():
        client.close()
    model_calls = len(bench.model_log())
    sent = cfg["overhead_rounds"] * cfg["overhead_requests"] * 2
    summary = {
        name: {
            "p50_ms_median_of_rounds": median([r[name]["p50_ms"] for r in rounds]),
            "p90_ms_median_of_rounds": median([r[name]["p90_ms"] for r in rounds]),
            "p50_ms_pooled": percentile(pooled[name], 50),
            "p90_ms_pooled": percentile(pooled[name], 90),
            "requests": len(pooled[name]),
        }
        for name in ("aiops", "floor")
    }
    p50_ratio = median([r["p50_ratio"] for r in rounds])
    return {
        "what": "POST /gen continuing a conversation (1 store read, 1 model call, 1 store write), "
        "model answers instantly; sequential keep-alive client; floor = bench/floor.py",
        "rounds": rounds,
        "summary": summary,
        "p50_ratio_median_of_rounds": p50_ratio,
        "p90_ratio_median_of_rounds": median([r["p90_ratio"] for r in rounds]),
        "p50_overhead_ms": summary["aiops"]["p50_ms_median_of_rounds"]
        - summary["floor"]["p50_ms_median_of_rounds"],
        "model_calls_per_request_both": model_calls / sent if sent else None,
        "goal_p50_ratio": GOALS["overhead_p50_ratio"],
        "goal_met": p50_ratio <= GOALS["overhead_p50_ratio"],
    }


# --- 6. instant edits -----------------------------------------------------------------------

INSTANT_EDIT = "把内存调到2G"  # an exact edit: answered without the model


def phase_instant(bench: Bench, floor: Server) -> dict[str, Any]:
    """The same conversation continued on one server (default settings) by an exact edit (the
    instant path) and by the vague follow-up of §1 (the model path), against the floor."""
    cfg = bench.config
    server = bench.server("aiops-instant")
    with harness.running(server, ready_gen):
        client = Client(server.url)
        status, parent, _ = client.post_json(
            "/gen", scenario.gen_body(scenario.CONVERSATION[0][0], scenario.STARTING_FORM)
        )
        if status != 200:
            raise RuntimeError(f"the first /gen failed: {status} {parent}")
        bench.keep = [parent["MessageId"]]
        form = scenario.form_of(parent)
        bodies = {
            "instant": scenario.gen_body(INSTANT_EDIT, form, parent["MessageId"]),
            "model": scenario.gen_body(scenario.CONVERSATION[1][0], form, parent["MessageId"]),
        }
        for name, body in bodies.items():  # each path is the one it claims to be
            status, answer, _ = client.post_json("/gen", body)
            if status != 200 or (answer["Model"] == "instant") != (name == "instant"):
                raise RuntimeError(f"the {name} body did not take the {name} path: {answer}")
        client.close()
        encoded = {name: json.dumps(body).encode() for name, body in bodies.items()}
        clients = {"instant": Client(server.url), "model": Client(server.url)}
        clients["floor"] = Client(floor.url)
        encoded["floor"] = json.dumps(bench.follow_up).encode()
        paths = {"instant": "/gen", "model": "/gen", "floor": "/"}
        for name, each in clients.items():
            for _ in range(cfg["warmup"]):
                each.request("POST", paths[name], encoded[name])
        bench.clear_model_log()
        names = ("instant", "model", "floor")
        pooled: dict[str, list[float]] = {name: [] for name in names}
        rounds = []
        instant_model_calls = 0
        for index in range(cfg["overhead_rounds"]):
            order = names[index % 3 :] + names[: index % 3]
            row: dict[str, Any] = {"order": list(order)}
            for name in order:
                bench.trim_store()
                before = len(bench.model_log())
                latencies = []
                for _ in range(cfg["overhead_requests"]):
                    status, data, elapsed = clients[name].request(
                        "POST", paths[name], encoded[name]
                    )
                    if status != 200:
                        raise RuntimeError(f"{name} answered {status}: {data[:300]!r}")
                    latencies.append(elapsed * 1000)
                if name == "instant":
                    instant_model_calls += len(bench.model_log()) - before
                pooled[name] += latencies
                row[name] = {
                    "p50_ms": percentile(latencies, 50),
                    "p90_ms": percentile(latencies, 90),
                }
            rounds.append(row)
        for each in clients.values():
            each.close()
        bench.keep = []
    summary = {
        name: {
            "p50_ms_median_of_rounds": median([r[name]["p50_ms"] for r in rounds]),
            "p90_ms_median_of_rounds": median([r[name]["p90_ms"] for r in rounds]),
            "requests": len(pooled[name]),
        }
        for name in names
    }

    def ratio_of(a: str, b: str, at: str) -> float | None:
        return median([ratio(r[a][at], r[b][at]) for r in rounds])

    return {
        "recogniser": recogniser_cost(cfg.get("recogniser_repeat", 5)),
        "in_process": paths_in_process(bench, cfg["inprocess_requests"] * 2),
        "what": f"POST /gen continuing the same conversation: {INSTANT_EDIT!r} (instant path) and "
        f"{scenario.CONVERSATION[1][0]!r} (model path, scripted model answering at once), on one "
        "server with the default settings; floor = bench/floor.py (1 read, 1 model call, 1 write)",
        "rounds": rounds,
        "summary": summary,
        "instant_over_model_p50": ratio_of("instant", "model", "p50_ms"),
        "instant_over_model_p90": ratio_of("instant", "model", "p90_ms"),
        "instant_over_floor_p50": ratio_of("instant", "floor", "p50_ms"),
        "instant_over_floor_p90": ratio_of("instant", "floor", "p90_ms"),
        "model_calls_by_instant_requests": instant_model_calls,
    }


def paths_in_process(bench: Bench, requests: int) -> dict[str, Any]:
    """Wall time of `Generation.run` in this process (in-memory store, no HTTP in front): the
    exact edit and the model path (the scripted model over loopback), alternating."""
    from aiops.api import GenRequest
    from aiops.app import App
    from aiops.service import Generation
    from aiops.settings import Settings
    from aiops.store import MemoryStore

    settings = Settings(openai_base_url=bench.model.base_url, instant_edits=True)
    store = MemoryStore()
    app = App(settings, store)
    first = Generation(
        GenRequest(user_input=scenario.CONVERSATION[0][0], params=scenario.STARTING_FORM),
        harness.BENCH_KEY,
        app,
    ).run()
    form = json.loads(first.GenParamsStr)
    texts = {"instant": INSTANT_EDIT, "model": scenario.CONVERSATION[1][0]}
    requests_of = {
        name: GenRequest(user_input=text, params=form, parent_message_id=first.MessageId)
        for name, text in texts.items()
    }
    times: dict[str, list[float]] = {name: [] for name in texts}
    for index in range(requests):
        for name in ("instant", "model") if index % 2 == 0 else ("model", "instant"):
            started = time.perf_counter()
            answer = Generation(requests_of[name], harness.BENCH_KEY, app).run()
            times[name].append((time.perf_counter() - started) * 1000)
            if (answer.Model == "instant") != (name == "instant"):
                raise RuntimeError(f"the {name} request took the other path")
    figures: dict[str, Any] = {
        name: {"p50_ms": percentile(values, 50), "p90_ms": percentile(values, 90)}
        for name, values in times.items()
    }
    figures["requests"] = requests
    figures["instant_over_model_p50"] = ratio(
        figures["instant"]["p50_ms"], figures["model"]["p50_ms"]
    )
    return figures


def recogniser_cost(repeat: int = 5) -> dict[str, Any]:
    """In process, µs per request of `aiops.instant.propose` on the phrasings of
    tests/data/instant_cases.json: what an exact edit costs, and what every request the model
    answers pays for being looked at first."""
    from aiops import catalog, instant
    from aiops.form import Limits

    known = catalog.load()
    cases = json.loads((ROOT / "tests" / "data" / "instant_cases.json").read_text())
    limits = Limits()
    figures: dict[str, Any] = {}
    for kind in ("instant", "model"):
        times = []
        for case in cases[kind]:
            form = cases["forms"][case["form"]]
            for _ in range(repeat):
                started = time.perf_counter()
                instant.propose(case["user"], form, limits, known)
                times.append((time.perf_counter() - started) * 1e6)
        figures[kind] = {
            "requests": len(cases[kind]),
            "p50_us": percentile(times, 50),
            "p90_us": percentile(times, 90),
        }
    return figures


# --- 2. round trips (in process) and the profile --------------------------------------------


def run_inprocess(
    bench: Bench, mode: str, wrapper: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    cfg = bench.config
    own = {**bench.env, "BENCH_FLOOR_PROMPT": str(bench.floor_prompt)}
    config = {
        **extra,
        "mode": mode,
        "body": bench.follow_up,
        "env": own,
        "rounds": cfg["inprocess_rounds"],
        "requests": cfg["inprocess_requests"],
        "profile_requests": cfg["profile_requests"],
        "profile_dir": str(RESULTS_DIR),
        "log_path": str(bench.work / "inprocess.log"),
    }
    done = subprocess.run(
        [*(wrapper or []), sys.executable, "-m", "bench.inprocess", json.dumps(config)],
        cwd=ROOT,
        env=harness.server_env(own),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.inprocess ({mode}) failed:\n{done.stderr[-4000:]}")
    results = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not results:
        raise RuntimeError(f"bench.inprocess ({mode}) printed no result:\n{done.stdout[-2000:]}")
    return json.loads(results[-1])


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def cpu_profile(bench: Bench, target: str) -> dict[str, Any]:
    """py-spy samples the in-process worker from outside (idle threads left out: CPU time)."""
    from bench.profiles import summarise_pyspy

    spy = py_spy()
    if spy is None:
        return {"skipped": "py-spy is not installed (pip install py-spy)"}
    raw = RESULTS_DIR / f"profile-cpu-{target}.raw"
    wrapper = [spy, "record", "--format", "raw", "--full-filenames", "--rate", "1000",
               "--nonblocking", "--output", str(raw), "--"]  # fmt: skip
    try:
        spun = run_inprocess(bench, "spin", wrapper, target=target)
    except RuntimeError as error:
        if "Permission" in str(error) or "ptrace" in str(error):
            return {"skipped": f"py-spy cannot attach here: {str(error)[-300:]}"}
        raise
    summary = summarise_pyspy(raw.read_text().splitlines(), within="profiled_requests")
    summary.update(
        target=target,
        requests=spun["requests"],
        cpu_ms_per_request=spun["cpu_ms_per_request"],
        files=[raw.name],
        sampler="py-spy record --rate 1000 --nonblocking (idle threads left out)",
    )
    return summary


def phase_inprocess(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    bench.clear_model_log()
    raw = run_inprocess(bench, "measure")
    model_requests = len(bench.model_log())
    measured = {}
    for name in ("aiops", "floor"):
        record = raw[name]
        reads = [c.get("find", 0) + c.get("aggregate", 0) for c in record["commands"]]
        writes = [
            c.get("insert", 0) + c.get("update", 0) + c.get("delete", 0) for c in record["commands"]
        ]
        kinds: dict[str, int] = {}
        for commands in record["commands"]:
            for command, count in commands.items():
                kinds[command] = kinds.get(command, 0) + count
        n = len(record["commands"])
        measured[name] = {
            "requests": n,
            "store_commands_per_request": {k: v / n for k, v in sorted(kinds.items())},
            "store_reads_max": max(reads, default=0),
            "store_writes_max": max(writes, default=0),
            "wall_ms_median": median(record["wall_s"]) * 1000,
            "cpu_ms_median": median(record["cpu_s"]) * 1000,
            "cpu_ms_mean": sum(record["cpu_s"]) / max(n, 1) * 1000,
            "statuses": sorted(set(record["statuses"])),
        }
    aiops = measured["aiops"]
    llm_calls = raw["aiops"]["llm_calls"]
    # Every request of the worker (first, 3 + 3 warm-up, measured, profiled) reaches the model.
    total_requests = 1 + 3 * 2 + aiops["requests"] + measured["floor"]["requests"]
    if raw.get("profile", {}).get("requests"):
        total_requests += cfg["profile_requests"]
    round_trips = {
        "what": "in process: aiops.routes.respond(Request) and bench.floor.handle(body), "
        "a pymongo CommandListener registered before the client exists",
        "first_request_commands": raw["first_request"]["commands"],
        "first_request_wall_ms": raw["first_request"]["wall_s"] * 1000,
        "aiops": aiops,
        "floor": measured["floor"],
        "llm_calls_per_request_max": max(llm_calls, default=0),
        "llm_calls_per_request_median": median(llm_calls),
        "model_requests_logged": model_requests,
        "model_requests_expected_if_one_each": total_requests,
        "cpu_ratio": ratio(aiops["cpu_ms_median"], measured["floor"]["cpu_ms_median"]),
        "cpu_overhead_ms": aiops["cpu_ms_median"] - measured["floor"]["cpu_ms_median"],
        "wall_ratio": ratio(aiops["wall_ms_median"], measured["floor"]["wall_ms_median"]),
        "goal_met": aiops["store_reads_max"] <= GOALS["store_reads"]
        and aiops["store_writes_max"] <= GOALS["store_writes"]
        and max(llm_calls, default=0) <= GOALS["model_calls"]
        and model_requests == total_requests,
    }
    profile: dict[str, Any] = {"wall": raw.get("profile")}
    if cfg["profile_requests"]:
        targets = cfg.get("profile_targets", ["aiops", "floor"])
        for target, key in (("aiops", "cpu"), ("floor", "cpu_floor")):
            if target not in targets:
                profile[key] = {"skipped": "not among this run's profile targets (--smoke)"}
                continue
            try:
                profile[key] = cpu_profile(bench, target)
            except Exception as error:
                profile[key] = {"skipped": f"{type(error).__name__}: {str(error)[:1000]}"}
    return {"round_trips": round_trips, "profile": profile}


# --- 3. cold start --------------------------------------------------------------------------


def cold_start_once(bench: Bench, name: str) -> tuple[float, float]:
    """Spawn the server; (seconds until it accepts a TCP connection, seconds until it answered
    the request). functions-framework imports the source module before gunicorn binds the port;
    the request then waits for the forked worker and whatever the first request loads."""
    server = bench.server(name)
    body = json.dumps(bench.follow_up).encode()
    path = path_of(name)

    def answered() -> bool:
        reply = harness.try_post(server.url, path, body)
        if reply is None:
            return False
        if reply[0] != 200:
            raise RuntimeError(f"{name} answered {reply[0]} at start: {reply[1][:300]!r}")
        return True

    server.spawn()
    try:
        listening = server.wait_until(lambda: harness.listening(server))
        return listening, server.wait_until(answered)
    finally:
        server.stop()


def importtime(statement: str) -> dict[str, Any]:
    """`python -X importtime -c statement`: total of self times (ms), the process's wall time,
    and the slowest first-level imports."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=ROOT,
        env=harness.server_env({}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"importtime {statement!r} failed: {done.stderr[-2000:]}")
    total_us, top = 0, []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", line)
        if not match:
            continue
        total_us += int(match.group(1))
        if len(match.group(3)) == 1:  # a first-level import
            top.append((int(match.group(2)), match.group(4)))
    top.sort(reverse=True)
    return {
        "total_ms": total_us / 1000,
        "process_wall_ms": wall * 1000,
        "top_level": [{"module": m, "cumulative_ms": us / 1000} for us, m in top[:12]],
    }


def phase_cold_start(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    names = ("aiops", "bare", "floor")
    times: dict[str, list[float]] = {name: [] for name in names}
    listen: dict[str, list[float]] = {name: [] for name in names}
    for name in names if cfg.get("cold_warmup", True) else ():
        cold_start_once(bench, name)  # untimed: byte code compiled and cached, files in cache
    for index in range(cfg["cold_rounds"]):
        order = names if index % 2 == 0 else tuple(reversed(names))
        for name in order:
            listening, answered = cold_start_once(bench, name)
            listen[name].append(listening * 1000)
            times[name].append(answered * 1000)
    statements = {
        "handler": "import handler",
        "handler_and_first_request_imports": "import handler, aiops.service, openai, pymongo",
        "bare": "import bench.bare",
    }
    imports: dict[str, list[dict[str, Any]]] = {name: [] for name in statements}
    for index in range(cfg["import_rounds"]):
        order = list(statements) if index % 2 == 0 else list(reversed(statements))
        for name in order:
            imports[name].append(importtime(statements[name]))
    import_summary = {
        name: {
            "total_ms_median": median([run["total_ms"] for run in runs]),
            "process_wall_ms_median": median([run["process_wall_ms"] for run in runs]),
            "top_level": runs[-1]["top_level"],
        }
        for name, runs in imports.items()
    }
    plain_runs = cfg.get("cold_breakdowns", cfg["cold_rounds"])
    breakdowns = [run_inprocess(bench, "cold") for _ in range(plain_runs)]
    breakdowns.append(run_inprocess(bench, "cold", profile_first=True))
    first = {name: median(values) for name, values in times.items()}
    cold_ratio = ratio(first["aiops"], first["bare"])
    bare_import = import_summary["bare"]["total_ms_median"]
    return {
        "what": "process start (Popen of functions-framework) to the first 200 answer of a real "
        "request (POST /gen continuing a conversation: store read + model call + store write); "
        "bare = bench/bare.py (imports openai, pymongo, pydantic, functions_framework, answers)",
        "first_answer_ms": {name: {"median": first[name], "runs": times[name]} for name in names},
        "listening_ms": {
            name: {"median": median(listen[name]), "runs": listen[name]} for name in names
        },
        "answer_after_listening_ms": {
            name: median([t - o for t, o in zip(times[name], listen[name], strict=True)])
            for name in names
        },
        "ratio_vs_bare": cold_ratio,
        "ratio_vs_floor": ratio(first["aiops"], first["floor"]),
        "floor_ratio_vs_bare": ratio(first["floor"], first["bare"]),
        "importtime": import_summary,
        "importtime_ratio_handler_vs_bare": ratio(
            import_summary["handler"]["total_ms_median"], bare_import
        ),
        "importtime_ratio_full_vs_bare": ratio(
            import_summary["handler_and_first_request_imports"]["total_ms_median"], bare_import
        ),
        "first_request_in_process": first_request_summary(breakdowns),
        "goal_ratio": GOALS["cold_start_ratio"],
        "goal_met": cold_ratio <= GOALS["cold_start_ratio"],
    }


def first_request_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over runs of the "cold" in-process worker: import handler, the first request (and
    where its time goes), the second request."""
    keys = ("import_handler_ms", "first_request_ms", "first_request_cpu_ms", "second_request_ms")
    plain = [run for run in runs if not run.get("first_request_profile")] or runs
    out: dict[str, Any] = {key: median([run[key] for run in plain]) for key in keys}
    out["first_request_commands"] = runs[-1]["first_request_commands"]
    out["first_request_penalty_ms"] = out["first_request_ms"] - out["second_request_ms"]
    profiled = [run["first_request_profile"] for run in runs if run.get("first_request_profile")]
    if profiled:
        # Shares from the profiled run, in ms of the unprofiled first request.
        first = out["first_request_ms"]
        shares = profiled[-1]["aiops_functions_share"]
        out["aiops_functions_ms"] = {
            name: share * first
            for name, share in sorted(shares.items(), key=lambda kv: -kv[1])[:25]
        }
        out["by_group_ms"] = {
            g: share * first for g, share in profiled[-1]["by_group_share"].items()
        }
    return out


# --- 4. tokens ------------------------------------------------------------------------------


def phase_tokens(bench: Bench, aiops: Server, tokenizer: tokens_module.Tokenizer) -> dict[str, Any]:
    client = Client(aiops.url)
    captured: list[dict[str, Any]] = []

    def send(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        bench.clear_model_log()
        status, answer, _ = client.post_json("/gen", body)
        if status != 200:
            raise RuntimeError(f"/gen answered {status}: {answer}")
        requests = bench.model_log()
        captured.extend(requests)
        return answer, requests[-1]

    def prompt_figures(request: dict[str, Any]) -> dict[str, Any]:
        messages = request["messages"]
        schema = (request.get("response_format") or {}).get("json_schema", {}).get("schema")
        figures = {
            "messages": len(messages),
            "prompt_tokens": tokenizer.messages(messages),
            "static_instructions_tokens": tokenizer.message(messages[0]),
            "prompt_chars": sum(len(str(m["content"])) for m in messages),
            "response_schema_tokens_approx": tokenizer.count(tokens_module.compact(schema))
            if schema
            else 0,
            "by_message": [
                {
                    "role": m["role"],
                    "tokens": tokenizer.message(m),
                    "starts": str(m["content"])[:60],
                }
                for m in messages
            ],
        }
        figures["prompt_tokens_with_schema"] = (
            figures["prompt_tokens"] + figures["response_schema_tokens_approx"]
        )
        return figures

    # The original README's examples, as a user of the original service would send them.
    examples: dict[str, Any] = {}
    answers: dict[str, dict[str, Any]] = {}
    for example in scenario.original_examples():
        request = dict(example["request"], openai_token=harness.BENCH_KEY)
        if example.get("continues"):
            previous = answers[example["continues"]]
            request["params"] = scenario.form_of(previous)
            request["parent_message_id"] = previous["MessageId"]
        answer, model_request = send(request)
        answers[example["name"]] = answer
        examples[example["name"]] = prompt_figures(model_request)
        examples[example["name"]]["original_raw_output_tokens"] = tokenizer.count(
            example["raw_model_output"]
        )

    # A 10-turn conversation: history grows by one compact exchange per turn.
    turns: list[dict[str, Any]] = []
    form, parent = dict(scenario.STARTING_FORM), None
    for text, _changes, _reply in scenario.CONVERSATION:
        answer, model_request = send(scenario.gen_body(text, form, parent))
        messages = model_request["messages"]
        history = [m for m in messages[1:-1] if m["role"] != "system"]
        turns.append(
            {
                "user_input": text,
                "prompt_tokens": tokenizer.messages(messages),
                "history_messages": len(history),
                "history_tokens": sum(tokenizer.message(m) for m in history),
                "facts_tokens": sum(
                    tokenizer.message(m) for m in messages[1:-1] if m["role"] == "system"
                ),
                "last_message_tokens": tokenizer.message(messages[-1]),
                "_messages": messages,
            }
        )
        form, parent = scenario.form_of(answer), answer["MessageId"]
    growth = [b["history_tokens"] - a["history_tokens"] for a, b in itertools.pairwise(turns)]
    prompt_growth = [b["prompt_tokens"] - a["prompt_tokens"] for a, b in itertools.pairwise(turns)]
    shared = [
        shared_prefix_tokens(a["_messages"], b["_messages"], tokenizer)
        for a, b in itertools.pairwise(turns)
    ]
    for turn in turns:
        del turn["_messages"]

    # The static prefix: byte-identical in every request this run sent?
    prefixes = {str(r["messages"][0]["content"]) for r in captured + bench.model_log()}
    formats = {json.dumps(r.get("response_format"), sort_keys=True) for r in captured}
    static_tokens = tokenizer.message(captured[0]["messages"][0]) if captured else 0

    # The completion: a patch against a full form, for the follow-up of the examples.
    follow = scenario.CONVERSATION[1]
    full_form = scenario.form_of(answers.get("multi_turn_followup") or answers["simple_deploy"])
    patch = scenario.wrapper(follow[1], follow[2])
    strict_changes = {name: follow[1].get(name) for name in full_form_fields()}
    strict_patch = scenario.wrapper(strict_changes, follow[2])
    full = scenario.wrapper(
        {k: v for k, v in full_form.items() if k in full_form_fields()}, follow[2]
    )
    as_list = tokens_module.compact(
        {
            "changes": [{"field": k, "value": v} for k, v in follow[1].items()],
            "reply": follow[2],
            "questions": [],
        }
    )
    completion = {
        "patch_tokens": tokenizer.count(patch),
        "patch_strict_schema_tokens": tokenizer.count(strict_patch),
        "patch_as_list_tokens": tokenizer.count(as_list),
        "full_form_tokens": tokenizer.count(full),
        "note": "patch = only the changed fields; patch_strict_schema = the same answer with every "
        "field of the strict json_schema present (null = unchanged), as a strict-mode model must "
        "write it; patch_as_list = the changes as [{field, value}] items (a strict schema that "
        "needs no nulls); full_form = every field with its value (the original service's answer "
        "style). Compact JSON as structured-output models write it.",
    }
    completion["full_over_patch"] = ratio(
        completion["full_form_tokens"], completion["patch_tokens"]
    )
    completion["strict_over_patch"] = ratio(
        completion["patch_strict_schema_tokens"], completion["patch_tokens"]
    )
    client.close()
    mysql = examples["simple_deploy"]["prompt_tokens"]
    per_turn = median(growth) if growth else float("nan")
    return {
        "tokenizer": tokenizer.name,
        "exact": tokenizer.exact,
        "counting": "OpenAI cookbook formula for gpt-4o: 3 per message + role + content, + 3; "
        "the json_schema response format is counted apart (approximate: its compact JSON)",
        "examples": examples,
        "conversation": {
            "turns": turns,
            "history_growth_per_turn": growth,
            "history_growth_median": per_turn,
            "history_growth_max": max(growth, default=0),
            "prompt_growth_per_turn": prompt_growth,
            "shared_prefix_tokens_with_previous_turn": shared,
        },
        "static_prefix": {
            "distinct_system_prompts": len(prefixes),
            "byte_identical": len(prefixes) == 1,
            "distinct_response_formats": len(formats),
            "requests_compared": len(captured) + len(bench.model_log()),
            "tokens": static_tokens,
            "openai_cache_minimum_tokens": 1024,
        },
        "completion": completion,
        "goals": {
            "mysql_prompt_tokens": {
                "value": mysql,
                "goal": GOALS["mysql_prompt_tokens"],
                "met": mysql <= GOALS["mysql_prompt_tokens"],
            },
            "history_tokens_per_turn": {
                "value": per_turn,
                "max": max(growth, default=0),
                "goal": GOALS["history_tokens_per_turn"],
                "met": max(growth, default=0) <= GOALS["history_tokens_per_turn"],
            },
            "static_prefix_identical": {"met": len(prefixes) == 1},
        },
    }


def full_form_fields() -> tuple[str, ...]:
    from aiops.form import FIELDS

    return FIELDS


def shared_prefix_tokens(a: list[dict[str, Any]], b: list[dict[str, Any]], tokenizer: Any) -> int:
    """Tokens of the longest common prefix of two prompts (what a provider's cache can reuse)."""
    tokens = 3
    for first, second in zip(a, b, strict=False):
        if first != second:
            common = os.path.commonprefix([str(first["content"]), str(second["content"])])  # noqa: RUF071 (strings)
            return tokens + tokenizer.count(common)
        tokens += tokenizer.message(first)
    return tokens


# --- 5. throughput and memory ---------------------------------------------------------------


def throughput_level(
    bench: Bench, servers: dict[str, Server], concurrency: int, threads: int, sent: dict[str, int]
) -> dict[str, Any]:
    """One concurrency level, AIops and the floor in alternating rounds (the model is slow)."""
    cfg = bench.config
    delay = cfg["model_delay_s"]
    body = json.dumps(bench.follow_up).encode()
    row: dict[str, Any] = {"concurrency": concurrency, "threads": threads}
    ideal = min(concurrency, threads) / delay
    runs: dict[str, list[harness.LoadResult]] = {"aiops": [], "floor": []}
    bench.model_delay_s = delay
    try:
        for index in range(cfg["throughput_rounds"]):
            order = ("aiops", "floor") if index % 2 == 0 else ("floor", "aiops")
            for name in order:
                bench.trim_store()
                result = closed_loop(
                    servers[name].url, path_of(name), body,
                    concurrency=concurrency, duration_s=cfg["throughput_seconds"],
                )  # fmt: skip
                sent[name] += result.ok + sum(result.errors.values())
                runs[name].append(result)
    finally:
        bench.model_delay_s = 0.0
    for name, results in runs.items():
        latencies = [x * 1000 for r in results for x in r.latencies_s]
        errors: dict[str, int] = {}
        for r in results:
            for kind, count in r.errors.items():
                errors[kind] = errors.get(kind, 0) + count
        row[name] = {
            "rps_median": median([r.throughput for r in results]),
            "p50_ms": percentile(latencies, 50),
            "p90_ms": percentile(latencies, 90),
            "requests": len(latencies),
            "errors": errors,
        }
    row["ideal_rps"] = ideal
    row["aiops_vs_ideal"] = ratio(row["aiops"]["rps_median"], ideal)
    row["floor_vs_ideal"] = ratio(row["floor"]["rps_median"], ideal)
    row["aiops_vs_floor"] = ratio(row["aiops"]["rps_median"], row["floor"]["rps_median"])
    log(
        f"  concurrency {concurrency}, {threads} threads: aiops {row['aiops']['rps_median']:.1f} "
        f"rps, floor {row['floor']['rps_median']:.1f} rps, ideal {ideal:.0f}"
    )
    return row


@contextlib.contextmanager
def warm_servers(bench: Bench, extra_env: dict[str, str] | None = None) -> Any:
    """AIops and the floor, started fresh, each having served one request."""
    body = json.dumps(bench.follow_up).encode()
    servers = {name: bench.server(name) for name in ("aiops", "floor")}
    for server in servers.values():
        server.env.update(extra_env or {})
    with contextlib.ExitStack() as stack:
        for name, server in servers.items():
            stack.enter_context(harness.running(server, ready_gen if name == "aiops" else None))
        for name, server in servers.items():  # lazy imports and clients in place
            client = Client(server.url)
            client.request("POST", path_of(name), body)
            client.close()
        yield servers


def phase_throughput(bench: Bench) -> dict[str, Any]:
    cfg = bench.config
    threads = harness.gunicorn_threads()
    delay = cfg["model_delay_s"]
    body = json.dumps(bench.follow_up).encode()
    with warm_servers(bench) as servers:
        sent = {name: 1 for name in servers}
        started_memory = {name: memory_kib(server.pids()) for name, server in servers.items()}
        levels = [
            throughput_level(bench, servers, concurrency, threads, sent)
            for concurrency in cfg["throughput_levels"]
        ]
        # Memory: bring each server to the same number of requests, then read /proc.
        for name, server in servers.items():
            missing = cfg["memory_requests"] - sent[name]
            if missing > 0:
                result = closed_loop(server.url, path_of(name), body, concurrency=8, total=missing)
                sent[name] += result.ok + sum(result.errors.values())
        memory = {
            name: {
                "after_first_request": started_memory[name],
                "after_requests": memory_kib(server.pids()),
                "requests_served": sent[name],
            }
            for name, server in servers.items()
        }
    # More threads: the ceiling moves with THREADS (the Dockerfile sets 16).
    for more in cfg.get("threads_sweep", []):
        with warm_servers(bench, {"THREADS": str(more)}) as servers:
            levels.append(throughput_level(bench, servers, more, more, {"aiops": 0, "floor": 0}))
    peak = {name: memory[name]["after_requests"]["peak_rss_kib"] for name in memory}
    pss = {name: memory[name]["after_requests"]["pss_kib"] for name in memory}
    return {
        "what": f"closed loop, keep-alive clients, model delay {delay * 1000:.0f} ms; ideal = "
        f"min(concurrency, gunicorn threads) / model delay; 1 worker with functions-framework's "
        f"default threads = cpu_count × 4 = {threads}, plus rows with THREADS set",
        "gunicorn_threads": threads,
        "levels": levels,
        "memory": memory,
        "memory_peak_ratio_vs_floor": ratio(peak["aiops"], peak["floor"]),
        "memory_pss_ratio_vs_floor": ratio(pss["aiops"], pss["floor"]),
        "memory_note": "peak = sum of VmHWM over the functions-framework process tree (gunicorn "
        "arbiter + its worker), read from /proc after the requests; PSS shares the pages the "
        "forked worker has in common with the arbiter",
    }


# --- main -----------------------------------------------------------------------------------


def run(profile: str, out_dir: Path, phases: set[str]) -> dict[str, Any]:
    global RESULTS_DIR
    RESULTS_DIR = out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    config = PROFILES[profile]
    started = time.perf_counter()
    report: dict[str, Any] = {
        "profile": profile,
        "config": config,
        "machine": harness.machine(),
        "goals": GOALS,
        "errors": {},
    }
    work = Path(tempfile.mkdtemp(prefix="aiops-bench-"))
    bench = Bench(work, config)
    try:
        tokenizer = tokens_module.load(work / "tiktoken-cache")
        aiops, floor = bench.server("aiops"), bench.server("floor")
        with harness.running(aiops, ready_gen):
            report["setup"] = prepare(bench, aiops)
            with harness.running(floor):
                if "overhead" in phases:
                    log("1. overhead: AIops against the floor, model answers instantly")
                    report["overhead"] = guarded(
                        report, "overhead", phase_overhead, bench, {"aiops": aiops, "floor": floor}
                    )
                if "instant" in phases:
                    log("6. instant edits: an exact edit against the model path and the floor")
                    report["instant"] = guarded(report, "instant", phase_instant, bench, floor)
            if "tokens" in phases:
                log("4. tokens: the original examples and a 10-turn conversation")
                report["tokens"] = guarded(report, "tokens", phase_tokens, bench, aiops, tokenizer)
        if "inprocess" in phases:
            log("2. round trips in process (pymongo command monitoring) and the profile")
            report["inprocess"] = guarded(report, "inprocess", phase_inprocess, bench)
        if "throughput" in phases:
            log(
                "5. throughput at concurrency "
                + ", ".join(map(str, config["throughput_levels"]))
                + " and memory"
            )
            report["throughput"] = guarded(report, "throughput", phase_throughput, bench)
        if "cold" in phases:
            log("3. cold start and import time")
            report["cold_start"] = guarded(report, "cold_start", phase_cold_start, bench)
    finally:
        bench.close()
        shutil.rmtree(work, ignore_errors=True)
    report["seconds"] = time.perf_counter() - started
    report["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = rounded(report)
    (out_dir / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    summary = markdown(report)
    (out_dir / "latest.md").write_text(summary + "\n")
    return report


def guarded(report: dict[str, Any], name: str, phase: Any, bench: Bench, *args: Any) -> Any:
    """Run one phase on a trimmed store; a failure is reported, and the other phases still run.
    The load average before and after goes into the report (the machine is shared)."""
    report.setdefault("loadavg", {})[name] = {"before": list(os.getloadavg())}
    try:
        bench.trim_store()
        return phase(bench, *args)
    except Exception as error:
        report["errors"][name] = f"{type(error).__name__}: {str(error)[:2000]}"
        log(f"phase {name} failed: {type(error).__name__}: {str(error)[:500]}")
        return None
    finally:
        report["loadavg"][name]["after"] = list(os.getloadavg())


ALL_PHASES = ("overhead", "inprocess", "cold", "tokens", "throughput", "instant")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer rounds (~1.5 min)")
    size.add_argument("--smoke", action="store_true", help="a tiny end-to-end run (tests)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the report goes")
    parser.add_argument(
        "--only", default=",".join(ALL_PHASES), help=f"comma-separated phases of {ALL_PHASES}"
    )
    args = parser.parse_args(argv)
    profile = "smoke" if args.smoke else "quick" if args.quick else "full"
    phases = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = phases - set(ALL_PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    report = run(profile, args.out.resolve(), phases)
    print(markdown(report))
    print(f"\n(report: {args.out / 'latest.json'})")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
