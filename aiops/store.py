"""The conversation store (README "Conversations"): the interface the service uses, and its
implementations.

A turn is one record. It carries the ids of its ancestors and the compact exchanges of its
branch (both bounded), so that loading a conversation's history is a single read of the parent
turn. A turn belongs to the key that created it: only a one-way hash of the key is stored, and
a turn asked for with another key's hash answers exactly like an unknown one.

`new_store(settings)` makes the app's store (aiops.app): `MongoStore` (collection `messages`)
when MONGODB_URI is set, else a bounded in-process `MemoryStore`.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from pymongo import IndexModel, MongoClient
    from pymongo.collection import Collection
    from pymongo.errors import OperationFailure

    from aiops.settings import Settings

log = logging.getLogger("aiops.store")

# pymongo is imported where it is used: it costs ~80 ms, which a cold start without
# MONGODB_URI need not pay.

MAX_HISTORY = 50
"""Exchanges kept in a turn's history (the most recent ones); AIOPS_HISTORY_TURNS is at most 50."""

MAX_ANCESTORS = 50
"""Ancestor ids kept in a turn (the nearest ones)."""

MEMORY_STORE_MAX_TURNS = 10_000

COLLECTION = "messages"

MEMORY_STORE_WARNING = (
    "MONGODB_URI is not set: conversations are kept in memory, lost on restart, "
    "and not shared between instances"
)

CLIENT_OPTIONS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 2000,
    "connectTimeoutMS": 2000,
    "socketTimeoutMS": 3000,
    "timeoutMS": 3000,
    "maxIdleTimeMS": 60_000,
    "maxPoolSize": 16,
    "appname": "aiops",
    "retryWrites": True,
    "retryReads": True,
}
"""Defaults of the MongoClient: short, so that a request never hangs on the store.
An option written in MONGODB_URI wins over the default here. With timeoutMS (client-side
operation timeout) set, pymongo gives server selection what remains of timeoutMS, not
serverSelectionTimeoutMS: a call to a down store fails after ~3 s."""

OPERATION_TIMEOUT_S = 3.0
"""The deadline of one store call as a whole (index creation on first use included); a
`timeoutMS` written in MONGODB_URI sets it instead (`operation_timeout_s`)."""

_INDEX_CONFLICT_CODES = frozenset({85, 86})  # IndexOptionsConflict, IndexKeySpecsConflict
_CREDENTIALS = re.compile(r"(?<=://)[^@/\s]+@")

T = TypeVar("T")


class StoreUnavailable(Exception):
    """The store could not be reached or did not answer within its timeouts."""


class TurnNotStorable(StoreUnavailable):
    """The turn cannot be encoded for the store (e.g. an integer beyond 64 bits in the form).

    A kind of StoreUnavailable, so that the service answers as for any failed save.
    """


@dataclass(frozen=True)
class Exchange:
    """One earlier turn as the model sees it: the user's words, what changed, the reply."""

    user_input: str
    changes: dict[str, Any]
    reply: str


@dataclass
class Turn:
    """One request and its answer, as saved.

    `history` is the branch up to and including this turn (see `branch_history`);
    `ancestors` are the ids from the root down to the parent (see `lineage`).
    """

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

    def exchange(self) -> Exchange:
        """This turn as later turns show it to the model."""
        return Exchange(user_input=self.user_input, changes=self.changes, reply=self.reply)


def hash_key(api_key: str) -> str:
    """A one-way fingerprint of the caller's key: conversations belong to it."""
    return hashlib.sha256(b"aiops-conversation-owner\0" + api_key.encode()).hexdigest()


def lineage(parent: Turn | None) -> list[str]:
    """The `ancestors` of a new child of `parent`: the parent's, then the parent, bounded."""
    if parent is None:
        return []
    return [*parent.ancestors, parent.id][-MAX_ANCESTORS:]


def branch_history(parent: Turn | None, exchange: Exchange) -> list[Exchange]:
    """The `history` of a new turn: its parent's branch, then the new exchange, bounded."""
    earlier = parent.history if parent is not None else []
    return [*earlier, exchange][-MAX_HISTORY:]


def bounded(turn: Turn) -> Turn:
    """The turn with its history and ancestors cut to the most recent entries."""
    return replace(
        turn,
        history=list(turn.history[-MAX_HISTORY:]),
        ancestors=list(turn.ancestors[-MAX_ANCESTORS:]),
        created_at=as_utc(turn.created_at),
    )


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def is_expired(created_at: datetime, ttl: timedelta, now: datetime | None = None) -> bool:
    """Whether a turn created at `created_at` is older than the TTL."""
    return (now or datetime.now(UTC)) - as_utc(created_at) > ttl


class Store(Protocol):
    def load(self, message_id: str, key_hash: str) -> Turn | None:
        """The turn, or None when it is unknown, expired or owned by another key."""

    def save(self, turn: Turn) -> None:
        """Save a new turn; raises StoreUnavailable when the store cannot be reached."""


# --- in memory ------------------------------------------------------------------------------


class MemoryStore:
    """An in-process store: bounded, lost on restart; for local runs and single instances.

    The oldest turns are evicted beyond `max_turns`; expired turns read as None and are
    dropped as new turns come in. Turns are copied in and out, as a database would.
    """

    def __init__(
        self, max_turns: int = MEMORY_STORE_MAX_TURNS, ttl: timedelta = timedelta(days=30)
    ) -> None:
        self._turns: OrderedDict[str, Turn] = OrderedDict()
        self._lock = threading.Lock()
        self._max_turns = max_turns
        self._ttl = ttl

    def __len__(self) -> int:
        return len(self._turns)

    def load(self, message_id: str, key_hash: str) -> Turn | None:
        if not isinstance(message_id, str):
            return None
        with self._lock:
            turn = self._turns.get(message_id)
        if turn is None or turn.key_hash != key_hash or is_expired(turn.created_at, self._ttl):
            return None
        return copy.deepcopy(turn)

    def save(self, turn: Turn) -> None:
        stored = copy.deepcopy(bounded(turn))
        with self._lock:
            self._turns[stored.id] = stored
            self._turns.move_to_end(stored.id)
            self._drop_expired_oldest()
            while len(self._turns) > self._max_turns:
                self._turns.popitem(last=False)

    def _drop_expired_oldest(self) -> None:
        """Drop expired turns from the old end (insertion order is close to creation order)."""
        now = datetime.now(UTC)
        while self._turns:
            oldest = next(iter(self._turns.values()))
            if not is_expired(oldest.created_at, self._ttl, now):
                return
            self._turns.popitem(last=False)


# --- MongoDB --------------------------------------------------------------------------------


def turn_to_document(turn: Turn) -> dict[str, Any]:
    """The MongoDB document of a turn: `_id` is the turn id; the key itself is never in it."""
    turn = bounded(turn)
    return {
        "_id": turn.id,
        "parent_id": turn.parent_id,
        "ancestors": turn.ancestors,
        "key_hash": turn.key_hash,
        "created_at": turn.created_at,
        "user_input": turn.user_input,
        "form_before": turn.form_before,
        "form_after": turn.form_after,
        "changes": turn.changes,
        "reply": turn.reply,
        "model": turn.model,
        "usage": turn.usage,
        "history": [asdict(exchange) for exchange in turn.history],
    }


def turn_from_document(document: Mapping[str, Any]) -> Turn:
    """The turn a stored document holds; fields missing from older documents get defaults."""
    return Turn(
        id=str(document["_id"]),
        parent_id=document.get("parent_id"),
        key_hash=document.get("key_hash", ""),
        user_input=document.get("user_input", ""),
        form_before=dict(document.get("form_before") or {}),
        form_after=dict(document.get("form_after") or {}),
        changes=dict(document.get("changes") or {}),
        reply=document.get("reply", ""),
        model=document.get("model", ""),
        usage=dict(document.get("usage") or {}),
        history=[exchange_from_document(item) for item in document.get("history") or []],
        ancestors=[str(ancestor) for ancestor in document.get("ancestors") or []],
        created_at=as_utc(document.get("created_at") or datetime.now(UTC)),
    )


def exchange_from_document(item: Mapping[str, Any]) -> Exchange:
    """One compact exchange of a stored history."""
    return Exchange(
        user_input=item.get("user_input", ""),
        changes=dict(item.get("changes") or {}),
        reply=item.get("reply", ""),
    )


def redacted(text: str) -> str:
    """`text` without the `user:password@` part of any URI in it."""
    return _CREDENTIALS.sub("***@", text)


def uri_option_names(uri: str) -> set[str]:
    """The lower-cased names of the options written in a MongoDB URI's query string."""
    query = uri.partition("?")[2]
    return {name.lower() for name, _ in parse_qsl(query, keep_blank_values=True)}


def operation_timeout_s(uri: str) -> float:
    """The deadline of one store call: the URI's `timeoutMS` when it sets one, else ours."""
    query = uri.partition("?")[2]
    given = [value for name, value in parse_qsl(query) if name.lower() == "timeoutms"]
    if given and given[-1].isdigit() and int(given[-1]) > 0:
        return int(given[-1]) / 1000
    return OPERATION_TIMEOUT_S


def client_options(uri: str) -> dict[str, Any]:
    """Our client defaults, less those the URI sets itself."""
    in_uri = uri_option_names(uri)
    options = {name: value for name, value in CLIENT_OPTIONS.items() if name.lower() not in in_uri}
    options["tz_aware"] = True
    options["connect"] = False
    return options


def new_client(uri: str) -> MongoClient:
    """A MongoClient with short timeouts; it connects in the background on first use."""
    from pymongo import MongoClient

    return MongoClient(uri, **client_options(uri))


class MongoStore:
    """Turns in a MongoDB collection, one document per turn (see `turn_to_document`).

    `client` is a MongoClient, a function returning one (called on first use), or a URI (the
    store then creates and owns its client). Indexes (TTL on `created_at`, and `parent_id`) are
    created once, on first use; when the store is down then, the next call tries again.
    Every pymongo error is raised as StoreUnavailable, with a short message and no URI.
    """

    def __init__(
        self,
        client: MongoClient | Callable[[], MongoClient] | str,
        db_name: str = "aiops",
        ttl_days: float = 30,
        *,
        collection: str = COLLECTION,
        operation_timeout_s: float = OPERATION_TIMEOUT_S,
    ) -> None:
        self._client_source = client
        self._client: MongoClient | None = None
        self._owns_client = isinstance(client, str)
        self._db_name = db_name
        self._collection_name = collection
        self._ttl = timedelta(days=ttl_days)
        self._operation_timeout_s = operation_timeout_s
        self._client_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._indexes_ready = False
        # The collection of the current client, made once (~12 µs a time): (client, collection).
        self._collection: tuple[MongoClient, Collection[dict[str, Any]]] | None = None

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def load(self, message_id: str, key_hash: str) -> Turn | None:
        """The turn, in one `find`; None when unknown, expired or owned by another key."""
        if not isinstance(message_id, str) or not isinstance(key_hash, str):
            return None  # never let a non-string reach the query as an operator
        # By _id alone (the primary key), the owner compared here: a second field in the query
        # makes some servers (the test server among them) scan instead of using the _id index.
        document = self._call("load", lambda: self._messages().find_one({"_id": message_id}))
        if document is None or not hmac.compare_digest(str(document.get("key_hash")), key_hash):
            return None
        if is_expired(document.get("created_at", datetime.min), self._ttl):
            return None
        return turn_from_document(document)

    def save(self, turn: Turn) -> None:
        """Insert the turn; raises StoreUnavailable (or TurnNotStorable) when it is not saved."""
        document = turn_to_document(turn)
        self._call("save", lambda: self._messages().insert_one(document))

    def close(self) -> None:
        """Close the client if this store created it."""
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None and self._owns_client:
            client.close()

    def _call(self, operation: str, action: Callable[[], T]) -> T:
        """Run `action` within the store's deadline, turning driver errors into ours."""
        import pymongo
        from bson.errors import BSONError
        from pymongo.errors import PyMongoError

        try:
            with pymongo.timeout(self._operation_timeout_s):
                self._ensure_indexes()
                return action()
        except PyMongoError as error:
            log.warning(
                "conversation store: %s failed: %s: %s",
                operation,
                type(error).__name__,
                redacted(str(error))[:500],
            )
            raise StoreUnavailable(
                f"conversation store unavailable ({type(error).__name__} during {operation})"
            ) from None
        except (BSONError, OverflowError) as error:
            log.warning("conversation store: %s refused: %s", operation, redacted(str(error)))
            if operation == "save":
                raise TurnNotStorable(
                    f"the turn could not be encoded ({type(error).__name__})"
                ) from None
            raise StoreUnavailable(f"conversation store: unreadable {operation}") from None

    def _messages(self) -> Collection[dict[str, Any]]:
        """The `messages` collection, reading datetimes as aware UTC."""
        from bson.codec_options import CodecOptions

        client = self._connected_client()
        made = self._collection
        if made is not None and made[0] is client:
            return made[1]
        options: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=UTC)
        collection = client[self._db_name].get_collection(
            self._collection_name, codec_options=options
        )
        self._collection = (client, collection)
        return collection

    def _connected_client(self) -> MongoClient:
        """The client, created on first use."""
        client = self._client
        if client is not None:
            return client
        with self._client_lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> MongoClient:
        from pymongo import MongoClient

        source = self._client_source
        if isinstance(source, str):
            return new_client(source)
        if isinstance(source, MongoClient):
            return source
        return source()

    def _ensure_indexes(self) -> None:
        """Create the indexes once; a failure to reach the store leaves them to the next call."""
        if self._indexes_ready:
            return
        with self._index_lock:
            if not self._indexes_ready:
                self._create_indexes()
                self._indexes_ready = True

    def _create_indexes(self) -> None:
        """One createIndexes command; on a TTL conflict, update the TTL and go on."""
        from pymongo import ASCENDING, IndexModel

        expire_after = int(self._ttl.total_seconds())
        ttl_index = IndexModel([("created_at", ASCENDING)], expireAfterSeconds=expire_after)
        parent_index = IndexModel([("parent_id", ASCENDING)])
        error = self._refused_index_creation([ttl_index, parent_index])
        if error is None:
            return
        if error.code in _INDEX_CONFLICT_CODES:
            self._update_ttl(expire_after)
            error = self._refused_index_creation([parent_index])
        if error is not None:
            log.error(
                "conversation store: indexes not created (%s); expired turns read as unknown "
                "but may not be deleted",
                redacted(str(error))[:300],
            )

    def _refused_index_creation(self, models: list[IndexModel]) -> OperationFailure | None:
        """Create `models`; the server's refusal (OperationFailure) is returned, not raised."""
        from pymongo.errors import ExecutionTimeout, OperationFailure

        try:
            self._messages().create_indexes(models)
        except ExecutionTimeout:
            raise
        except OperationFailure as error:
            return error
        return None

    def _update_ttl(self, expire_after: int) -> None:
        """Change the TTL of an existing `created_at` index (AIOPS_HISTORY_TTL_DAYS changed)."""
        from pymongo.errors import ExecutionTimeout, OperationFailure

        command = {
            "collMod": self._collection_name,
            "index": {"keyPattern": {"created_at": 1}, "expireAfterSeconds": expire_after},
        }
        try:
            self._connected_client()[self._db_name].command(command)
            log.warning("conversation store: TTL index changed to %s s", expire_after)
        except ExecutionTimeout:
            raise
        except OperationFailure as error:
            log.warning(
                "conversation store: the TTL index on %s.created_at has another "
                "expireAfterSeconds and could not be changed (%s); drop it to apply "
                "AIOPS_HISTORY_TTL_DAYS. Expired turns still read as unknown.",
                self._collection_name,
                redacted(str(error))[:300],
            )


# --- the app's store -----------------------------------------------------------------------


def new_store(settings: Settings) -> Store:
    """A MongoStore (which creates and owns its client, on first use) when MONGODB_URI is set,
    else a MemoryStore. The app (aiops.app) makes one per process."""
    uri = settings.mongodb_uri
    ttl_days = settings.history_ttl_days
    if uri:
        return MongoStore(
            uri, settings.mongodb_db, ttl_days, operation_timeout_s=operation_timeout_s(uri)
        )
    log.warning(MEMORY_STORE_WARNING)
    return MemoryStore(max_turns=MEMORY_STORE_MAX_TURNS, ttl=timedelta(days=ttl_days))
