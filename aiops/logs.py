"""Structured logs: one JSON object per line on stdout, with a `severity` that Cloud Logging takes
as the entry's level (and CloudWatch Logs Insights can filter on), and the one request line
every HTTP request ends with.

Only facts about a request go here: never the key, never the user's text. A traceback is
logged only for a real server fault (an answer 500), at ERROR.

Served by `functions-framework` (gunicorn, log level `error`, no access log), the request line
is the only line a request prints. Its `--debug` mode (werkzeug's server) adds a plain-text
access line on stderr; the Lambda runtime adds its START/END/REPORT lines to CloudWatch.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

# The fields of a request line that only a generation fills in; every request line has them,
# so that a log query never has to ask whether a field exists.
GENERATION_DEFAULTS: dict[str, Any] = {
    "model": None,
    "llm_calls": 0,
    "usage": {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cached_prompt_tokens": 0,
    },
    "history": False,
    "history_turns": 0,
    "retried": False,
}


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time, severity, logger, message, the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "severity": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at the time of the record, not at configuration.

    Platforms and test runners swap `sys.stdout`; a handler that kept the first one would
    write into a stream nobody reads any more.
    """

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stdout


def level_for(status: int) -> int:
    """The severity of a request line: a fault of ours is an ERROR, a failure upstream a WARNING."""
    if status == 500 or status > 504:
        return logging.ERROR
    if status >= 500:
        return logging.WARNING
    return logging.INFO


def request_fields(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The extras of a request line: `facts`, then the generation fields it lacks (no model
    was asked), with their defaults."""
    fields = dict(facts)
    for name, default in GENERATION_DEFAULTS.items():
        fields.setdefault(name, copy.deepcopy(default))
    return fields


def configure(level: int | str = logging.INFO) -> None:
    """Send the `aiops` loggers to stdout as JSON lines (idempotent).

    They do not propagate to the root logger: functions-framework (with LOG_EXECUTION_ID) and
    the Lambda runtime put handlers there, which would print every line a second time.
    """
    logger = logging.getLogger("aiops")
    _enable_aiops_loggers()
    logger.setLevel(level)
    logger.propagate = False
    if any(isinstance(handler, StdoutHandler) for handler in logger.handlers):
        return
    handler = StdoutHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)


def _enable_aiops_loggers() -> None:
    """Undo `logging.config.dictConfig`, which disables the loggers it does not name (the
    functions-framework runs one with LOG_EXECUTION_ID set)."""
    for name, logger in logging.root.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and (name == "aiops" or name.startswith("aiops.")):
            logger.disabled = False


def log_start(served_at: tuple[str, int] | None, lambda_function: str | None) -> None:
    """The start line: where requests come from (an address, or the Lambda runtime)."""
    logger = logging.getLogger("aiops.start")
    if served_at is not None:
        host, port = served_at
        logger.info(
            "aiops listening on http://%s:%d (functions-framework)",
            host,
            port,
            extra={
                "host": host,
                "port": port,
                "workers": int(os.environ.get("WORKERS", 1)),
                "threads": int(os.environ.get("THREADS", (os.cpu_count() or 1) * 4)),
            },
        )
    elif lambda_function:
        logger.info(
            "aiops started on AWS Lambda: requests come from the Lambda runtime",
            extra={"function": lambda_function},
        )
    else:
        logger.info("aiops loaded: the importing program decides where requests come from")
