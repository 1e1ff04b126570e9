"""The conversation store (SPEC §6): the interface the service uses, and its implementations.

A turn is one record. It carries the compact exchanges of its branch (bounded), so that
loading a conversation's history is a single read of the parent turn.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

log = logging.getLogger("aiops.store")


class StoreUnavailable(Exception):
    """The store could not be reached or did not answer within its timeouts."""


@dataclass(frozen=True)
class Exchange:
    """One earlier turn as the model sees it: the user's words, what changed, the reply."""

    user_input: str
    changes: dict[str, Any]
    reply: str


@dataclass
class Turn:
    """One request and its answer, as saved."""

    id: str
    parent_id: str | None
    key_hash: str
    user_input: str
    form_before: dict[str, Any]
    form_after: dict[str, Any]
    changes: dict[str, Any]
    reply: str
    model: str
    usage: dict[str, int]
    history: list[Exchange] = field(default_factory=list)
    ancestors: list[str] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def hash_key(api_key: str) -> str:
    """A one-way fingerprint of the caller's key: conversations belong to it."""
    return hashlib.sha256(b"aiops-conversation-owner\0" + api_key.encode()).hexdigest()


class Store(Protocol):
    def load(self, message_id: str, key_hash: str) -> Turn | None:
        """The turn, or None when it is unknown, expired or owned by another key."""

    def save(self, turn: Turn) -> None:
        """Save a new turn; raises StoreUnavailable when the store cannot be reached."""


class MemoryStore:
    """An in-process store: bounded, lost on restart; for local runs and single instances."""

    def __init__(self, max_turns: int = 10_000, ttl: timedelta = timedelta(days=30)) -> None:
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        self._lock = threading.Lock()
        self._max_turns = max_turns
        self._ttl = ttl

    def load(self, message_id: str, key_hash: str) -> Turn | None:
        with self._lock:
            turn = self._turns.get(message_id)
        if turn is None or turn.key_hash != key_hash:
            return None
        if datetime.now(UTC) - turn.created_at > self._ttl:
            return None
        return turn

    def save(self, turn: Turn) -> None:
        with self._lock:
            self._turns[turn.id] = turn
            while len(self._turns) > self._max_turns:
                self._turns.popitem(last=False)
