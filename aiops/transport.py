"""The model client's HTTP transport: a wall-clock deadline for each model call.

The SDK's timeout (httpx's) limits each socket operation, so a provider that trickles its
headers or body one byte at a time holds a call for as long as it likes. Here every connect,
read and write of a call gets at most the time left until the call's deadline, set around the
call with `within(deadline)`: at the deadline the next socket operation times out, the SDK raises
its timeout error, httpcore closes the connection and the worker thread is free again. No thread
is left blocked on the socket, and nothing runs beside the call (README "Providers").
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore2
import httpx2
from httpcore2 import NetworkBackend, NetworkStream

from aiops import clock

# aiops.clock.now() by which the current thread's model call must end; None: no deadline.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "aiops_call_deadline", default=None
)


@contextmanager
def within(deadline: float | None) -> Iterator[None]:
    """Every socket operation of the HTTP calls made inside ends by `deadline` (monotonic)."""
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def _capped(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """`timeout`, cut to what is left before the deadline; raises when nothing is left."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - clock.now()
    if left <= 0:
        raise timeout_error("the model call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(NetworkStream):
    """A network stream whose every operation ends by the call's deadline."""

    def __init__(self, stream: NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _capped(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _capped(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        capped = _capped(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, capped))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(NetworkBackend):
    """Opens connections whose streams keep the call's deadline."""

    def __init__(self, backend: NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> NetworkStream:
        capped = _capped(timeout, httpcore2.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, capped, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> NetworkStream:
        capped = _capped(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_unix_socket(path, capped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def with_deadlines(client: httpx2.Client) -> httpx2.Client:
    """`client`, its connection pools (direct and through proxies) keeping call deadlines.

    httpx builds its pools itself (one per proxy read from the environment); the pool's network
    backend is the one seam through which every connection passes.
    """
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return client
