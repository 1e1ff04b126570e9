"""What the bench runs on: the servers it starts (MongoDB wire server, scripted model,
functions-framework processes), a keep-alive HTTP client, load loops, /proc memory, statistics.

Everything listens on 127.0.0.1 and every loop is bounded in count or time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_KEY = "sk-test-bench-aiops-000000000000"
START_TIMEOUT_S = 60.0


# --- statistics -----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(value: float, floor: float) -> float:
    return value / floor if floor else float("nan")


def rounded(value: Any, digits: int = 3) -> Any:
    """Floats rounded, recursively (for the JSON report)."""
    if isinstance(value, float):
        return round(value, digits) if value == value else None
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value


# --- the machine ----------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    from importlib.metadata import PackageNotFoundError, version

    for name in ("openai", "pymongo", "pydantic", "functions-framework", "gunicorn", "flask"):
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()),
        "packages": versions,
        "gunicorn_threads": gunicorn_threads(),
        "gunicorn_workers": int(os.environ.get("WORKERS", 1)),
    }


def gunicorn_threads() -> int:
    """Threads of the one gunicorn worker, as functions_framework/_http/gunicorn.py sets them:
    THREADS, else os.cpu_count() * 4."""
    return int(os.environ.get("THREADS", (os.cpu_count() or 1) * 4))


# --- the store and the model ----------------------------------------------------------------


def start_mongo(data_dir: Path) -> Any:
    """The mongoeco MongoDB wire server, started as tests/fixtures/mongo.py starts it."""
    from tests.fixtures.mongo import MongoecoServer, ensure_module

    ensure = ensure_module()
    python = ensure.ensure_mongoeco_python(log_file=data_dir / "mongoeco-setup.log")
    server = MongoecoServer(python, data_dir)
    server.start()
    return server


def start_model() -> tuple[Any, Any]:
    """The scripted Chat Completions server of the tests (tests/fixtures/model_server.py), with
    TCP_NODELAY on its sockets.

    Its handler writes the headers and the body of an answer in two `send`s; without
    TCP_NODELAY, Nagle's algorithm holds the body until the client ACKs the headers, and the
    client delays that ACK by ~40 ms: every model call would cost ~44 ms on loopback instead of
    ~1 ms, and hide the service's own overhead. So the bench serves the fixture's handler with
    `disable_nagle_algorithm = True` (what `start_model_server()` does otherwise).
    """
    from http.server import ThreadingHTTPServer

    from tests.fixtures.model_server import ScriptedModel, _handler_for

    model = ScriptedModel()

    class Handler(_handler_for(model)):  # type: ignore[misc]
        disable_nagle_algorithm = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    model.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return server, model


# --- functions-framework servers ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def functions_framework_command(source: Path, target: str, port: int) -> list[str]:
    """`functions-framework --source ... --target ...`: gunicorn, as production runs it."""
    executable = Path(sys.executable).with_name("functions-framework")
    return [
        str(executable),
        "--source", str(source), "--target", target,
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip


PYCACHE = ROOT / "bench" / "results" / ".pycache"
"""Byte code of every module the bench's processes import (git-ignored, kept between runs)."""


def server_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a process the bench starts: none of the caller's AIOPS_* settings, and
    byte code written and read under PYCACHE. Production images compile their byte code at build
    time (the Dockerfile runs compileall); a machine with PYTHONDONTWRITEBYTECODE=1 would instead
    recompile AIops' modules at every start and add ~25 ms to each cold start."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIOPS_", "BENCH_"))
        and k not in ("MONGODB_URI", "OPENAI_BASE_URL", "PYTHONDONTWRITEBYTECODE")
    }
    clean["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    clean.update(extra)
    return clean


@dataclass
class Server:
    """A functions-framework server in a subprocess (its own process group)."""

    name: str
    source: Path
    target: str
    env: dict[str, str]
    log_path: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        self.port = free_port()
        command = functions_framework_command(self.source, self.target, self.port)
        log = self.log_path.open("ab")
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_env(self.env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def wait_until(self, answered: Callable[[], bool], timeout_s: float = START_TIMEOUT_S) -> float:
        """Poll `answered` until it is true; seconds since spawn."""
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.output()[-3000:]}")
            if answered():
                return time.perf_counter() - self.started_at
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer within {timeout_s:.0f} s:\n{self.output()[-3000:]}"
        )

    def start(self, ready: Callable[[Server], bool] | None = None) -> Server:
        self.spawn()
        self.wait_until(lambda: (ready or listening)(self))
        return self

    def pids(self) -> list[int]:
        return process_tree(self.process.pid) if self.process else []

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # gunicorn's arbiter stops its worker on SIGTERM
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)  # the group this Popen created, nothing else
            process.wait(timeout=10)


def listening(server: Server) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), 0.2):
        return True
    return False


@contextlib.contextmanager
def running(server: Server, ready: Callable[[Server], bool] | None = None) -> Iterator[Server]:
    try:
        yield server.start(ready)
    finally:
        server.stop()


# --- HTTP -----------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection to a server, as a browser's would be."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.timeout_s = host, int(port), timeout_s
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, float]:
        """(status, body, seconds); reconnects once if the server closed the connection."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                data = response.read()
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if response.getheader("connection", "").lower() == "close":
                self.close()
            return response.status, data, elapsed
        raise AssertionError("unreachable")

    def post_json(self, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        status, data, elapsed = self.request("POST", path, json.dumps(payload).encode())
        try:
            answer = json.loads(data)
        except ValueError:
            answer = {"raw": data[:500].decode(errors="replace")}
        return status, answer, elapsed

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def try_post(url: str, path: str, body: bytes, timeout_s: float = 30.0) -> tuple[int, bytes] | None:
    """One POST on a new connection; None when the server is not listening yet."""
    client = Client(url, timeout_s)
    try:
        status, data, _ = client.request("POST", path, body)
        return status, data
    except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
        return None
    finally:
        client.close()


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return len(self.latencies_s)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def closed_loop(
    url: str,
    path: str,
    body: bytes,
    *,
    concurrency: int,
    duration_s: float | None = None,
    total: int | None = None,
) -> LoadResult:
    """`concurrency` clients, each with its own keep-alive connection, sending `body` back to
    back until `duration_s` has passed or `total` requests were sent (whichever is given)."""
    assert duration_s is not None or total is not None
    lock = threading.Lock()
    result = LoadResult(concurrency, 0.0)
    sent = [0]
    start = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def take_ticket() -> bool:
        with lock:
            if total is not None and sent[0] >= total:
                return False
            sent[0] += 1
        return duration_s is None or time.perf_counter() < deadline[0]

    def worker() -> None:
        client = Client(url, timeout_s=60)
        start.wait()
        while take_ticket():
            try:
                status, _, elapsed = client.request("POST", path, body)
            except (http.client.HTTPException, OSError) as error:
                kind = type(error).__name__
            else:
                if status == 200:
                    with lock:
                        result.latencies_s.append(elapsed)
                    continue
                kind = f"HTTP {status}"
            with lock:
                result.errors[kind] = result.errors.get(kind, 0) + 1
        client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + (duration_s or 0)
    start.wait()
    for thread in threads:
        thread.join(timeout=(duration_s or 0) + 120)
    result.seconds = time.perf_counter() - began
    return result


# --- memory ---------------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def memory_kib(pids: list[int]) -> dict[str, int]:
    """Summed VmRSS (now), VmHWM (peak resident) and Pss (now; shared pages divided among the
    processes sharing them, so that the arbiter and its forked worker are not counted twice) of
    the processes, in KiB."""
    total = {"rss_kib": 0, "peak_rss_kib": 0, "pss_kib": 0, "processes": 0}
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        total["processes"] += 1
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total["pss_kib"] += int(line.split()[1])
        for line in lines:
            if line.startswith("VmRSS:"):
                total["rss_kib"] += int(line.split()[1])
            elif line.startswith("VmHWM:"):
                total["peak_rss_kib"] += int(line.split()[1])
    return total
