"""Summaries of profiles: which library and which AIops module the time goes to.

Two sources: a pyinstrument session (wall time, waiting included) and py-spy's raw collapsed
stacks (sampled from outside the process, idle threads left out: CPU time, nearly no overhead).
In both, the time of a stdlib or builtin frame (`isinstance`, `typing.get_origin`) is charged to
the library or module that called it, so that work the openai SDK asks for counts as the SDK's.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable
from typing import Any

# Where time goes, by file path (first match wins).
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
    ("/bench/", "bench harness"),
]
WAITING = "waiting on a socket (store, model)"
STDLIB = "stdlib / interpreter"
WAIT_FUNCTIONS = {
    "recv",
    "recv_into",
    "readinto",
    "select",
    "poll",
    "sendall",
    "send",
    "wait",
    "acquire",
}


SOCKET_CALLS = "socket send/recv (system calls; includes being preempted by the woken peer)"
# Python frames that only make a socket system call (py-spy shows no C frames below them).
SOCKET_FRAMES = (
    ("pymongo/network_layer.py", ("recv_into", "sendall", "_poll", "wait_for_read")),
    ("httpcore2/_backends/sync.py", ("read", "write")),
    ("/socket.py", ("readinto", "recv_into", "sendall")),
)


def group_of(path: str, function: str) -> str:
    builtin = not path or path.startswith("<") or path == "~"
    base = function.rsplit(".", 1)[-1]
    if builtin and base in WAIT_FUNCTIONS:
        return WAITING
    for suffix, functions in SOCKET_FRAMES:
        if path.endswith(suffix) and base in functions:
            return SOCKET_CALLS
    for needle, group in GROUPS:
        if needle in path:
            return group
    if "site-packages" in path:
        return "other libraries"
    return STDLIB


def short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3.11/", "/lib/python3.12/", "/lib/python3.13/"):
        if marker in path:
            return path.split(marker, 1)[1]
    for marker in ("/aiops/", "/bench/", "/tests/"):
        if marker in path:
            return marker.strip("/") + "/" + path.split(marker, 1)[1]
    if path.endswith("/handler.py"):
        return "handler.py"
    return path


def _is_aiops(path: str) -> bool:
    return "/aiops/" in path or path.endswith("/handler.py")


class Tally:
    """Time (seconds or samples) by group, by AIops module, by function (self and inclusive)."""

    def __init__(self) -> None:
        self.by_group: collections.Counter[str] = collections.Counter()
        self.by_module: collections.Counter[str] = collections.Counter()
        self.self_by_function: collections.Counter[str] = collections.Counter()
        self.group_of_function: dict[str, str] = {}
        self.aiops_inclusive: collections.Counter[str] = collections.Counter()
        self.total = 0.0

    def add_stack(self, frames: list[tuple[str, str, int]], amount: float) -> None:
        """One stack, root first: (function, path, line) per frame."""
        owner, module, seen = STDLIB, "(outside aiops)", set()
        for function, path, _line in frames:
            group = group_of(path, function)
            if group != STDLIB:
                owner = group
            if _is_aiops(path):
                module = short(path)
                label = f"{short(path)}:{function}"
                if label not in seen:
                    seen.add(label)
                    self.aiops_inclusive[label] += amount
        function, path, line = frames[-1]
        leaf_group = group_of(path, function)
        if leaf_group in (WAITING, SOCKET_CALLS):
            owner = leaf_group
        name = f"{function} ({short(path)}:{line})"
        self.self_by_function[name] += amount
        self.group_of_function[name] = leaf_group
        self.by_group[owner] += amount
        if owner != WAITING:
            self.by_module[module] += amount
        self.total += amount

    def summary(self, top: int = 25) -> dict[str, Any]:
        total = self.total or 1e-9
        return {
            "self_time_by_group": [
                {"group": g, "share": t / total} for g, t in self.by_group.most_common()
            ],
            "time_by_aiops_module": [
                {"module": m, "share": t / total} for m, t in self.by_module.most_common()
            ],
            "self_time_top_functions": [
                {"function": f, "group": self.group_of_function[f], "share": t / total}
                for f, t in self.self_by_function.most_common(top)
            ],
            "aiops_functions_inclusive": [
                {"function": f, "share": t / total}
                for f, t in self.aiops_inclusive.most_common(top)
            ],
        }


def summarise_pyinstrument(session: Any, top: int = 25) -> dict[str, Any]:
    """A pyinstrument session (wall time), walked into stacks of self time."""
    tally = Tally()

    def walk(frame: Any, stack: list[tuple[str, str, int]]) -> None:
        stack = [*stack, (frame.function, frame.file_path or "", frame.line_no or 0)]
        self_time = frame.total_self_time
        if self_time > 0:
            tally.add_stack(stack, self_time)
        for child in frame.children:
            if not child.is_synthetic:
                walk(child, stack)

    root = session.root_frame()
    if root is not None:
        walk(root, [])
    summary = tally.summary(top)
    summary["seconds"] = tally.total
    return summary


_FRAME = re.compile(r"^(.*) \((.*):(\d+)\)$")


def summarise_pyspy(lines: Iterable[str], within: str, top: int = 25) -> dict[str, Any]:
    """py-spy's raw output (`stack;frames count` per line, --full-filenames), keeping only the
    stacks that pass through a function named `within`."""
    tally = Tally()
    samples = 0
    for line in lines:
        stack_text, _, count_text = line.rstrip("\n").rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        frames = []
        for part in stack_text.split(";"):
            match = _FRAME.match(part)
            if match:
                frames.append((match.group(1), match.group(2), int(match.group(3))))
            else:
                frames.append((part, "", 0))
        names = [name for name, _, _ in frames]
        if not any(name == within or name.endswith("." + within) for name in names):
            continue
        # From the request on: drop the bench's own frames above it.
        start = max(
            i for i, name in enumerate(names) if name == within or name.endswith("." + within)
        )
        samples += int(count_text)
        tally.add_stack(frames[start + 1 :] or frames[start:], int(count_text))
    summary = tally.summary(top)
    summary["samples"] = samples
    return summary
