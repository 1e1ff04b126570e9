"""Run a MongoDB wire-protocol server backed by SQLite (mongoeco), for tests and local runs.

No mongod can be installed on our machines, so tests talk real MongoDB wire protocol to this
server through pymongo. It needs Python >= 3.13 and `mongoeco` (see scripts/ensure_mongoeco.py):

    .venv-mongoeco/bin/python scripts/mongoeco_server.py --db /tmp/aiops.sqlite3 --port 27017

It serves until SIGTERM or SIGINT, then closes its listener and its SQLite file cleanly.
With --port 0 the system picks a free port; --port-file tells which one, once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

log = logging.getLogger("mongoeco_server")

MIN_PYTHON = (3, 13)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: where the data lives and where to listen."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=27017, help="TCP port; 0 picks a free one")
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one ends (no orphan after a killed test run)",
    )
    return parser.parse_args(argv)


def write_atomically(path: str, text: str) -> None:
    """Write `text` so that a reader polling `path` never sees half of it."""
    partial = f"{path}.partial"
    Path(partial).write_text(text)
    os.replace(partial, path)


async def stop_when_orphaned(stop: asyncio.Event) -> None:
    """Set `stop` once this process's parent has ended."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(1)
    log.info("parent %s ended", parent)
    stop.set()


async def serve(args: argparse.Namespace) -> None:
    """Serve the wire protocol until the process is asked to stop."""
    from mongoeco.engines.sqlite import SQLiteEngine
    from mongoeco.wire import AsyncMongoEcoProxyServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(stop_when_orphaned(stop)) if args.exit_with_parent else None

    engine = SQLiteEngine(args.db)
    server = AsyncMongoEcoProxyServer(engine=engine, host=args.host, port=args.port)
    async with server:
        address = server.address
        log.info("listening on %s (data in %s)", address.uri, args.db)
        if args.port_file:
            write_atomically(args.port_file, str(address.port))
        await stop.wait()
        log.info("stopping")
    if watcher is not None:
        watcher.cancel()


def missing_requirement() -> str | None:
    """Why this interpreter cannot run the server, or None when it can."""
    if sys.version_info < MIN_PYTHON:
        return f"mongoeco needs Python >= 3.13; this is {sys.version.split()[0]}"
    try:
        import bson  # noqa: F401  (mongoeco's wire extra: without it every connection drops)
        import mongoeco.wire  # noqa: F401
    except ImportError as error:
        return f"{error}; install with: {sys.executable} -m pip install 'mongoeco[wire]'"
    return None


def main(argv: list[str] | None = None) -> int:
    """Check the interpreter, then serve; the exit status says how it went."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    args = parse_args(argv)
    problem = missing_requirement()
    if problem:
        log.error("%s", problem)
        return 2
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
