"""Oversized bodies against the real server (functions-framework under gunicorn, as in the
container): the 413 goes out after at most the limit was read, the server then ends the
connection (the client's upload is cut off, not read to its end), and the worker's memory does
not grow with the upload. Measured from /proc (the worker's peak resident size) and by counting
the bytes the client got to send, not timed.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.app import LiveServer, start_live_server
from tests.fixtures.model_server import ScriptedModel

UPLOAD_BYTES = 200 * 1024 * 1024
# Far below what buffering the upload costs (~150-200 MiB before the middleware), far above
# what a request costs the worker.
MAX_GROWTH_KIB = 16 * 1024
# What the client gets to send before the server ends the connection: the limit, what the
# server drains before closing (64 KiB) and the two kernels' socket buffers (a few MiB on
# loopback); far below the upload.
MAX_SENT_BYTES = 32 * 1024 * 1024
# How long a blocked send or read waits: a hang detector, not a measure (a fixed server cuts
# the upload off in milliseconds); shorter than the kernel's FIN-WAIT-2 timeout (60 s), which
# would end a stalled connection by itself and hide the stall.
SEND_TIMEOUT_S = 30
_FRAME = 64 * 1024


@pytest.fixture(scope="module")
def upload_server(
    _model_server: ScriptedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = {"OPENAI_BASE_URL": _model_server.base_url}
    server = start_live_server(env, tmp_path_factory.mktemp("upload") / "server.log")
    yield server
    server.stop()


def worker_pid(server: LiveServer) -> int:
    """The gunicorn worker: the one child of the functions-framework process."""
    pid = server.process.pid
    (child,) = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(child)


def peak_kib(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc")


@dataclass
class Upload:
    answer: bytes  # every byte the server sent until it ended the connection
    sent: int  # the bytes of `frames` the client got to send
    ended: bool  # the server ended the connection (end of stream or reset) before the timeout
    cut_off: bool  # the client's send failed: the server closed with the upload unread


def upload(server: LiveServer, head: bytes, frames: Iterator[bytes]) -> Upload:
    """Send `head`, then `frames` until they end or the server closes, reading all the while."""
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=SEND_TIMEOUT_S)
    answer = bytearray()
    ended = threading.Event()

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                answer.extend(chunk)
            ended.set()  # end of stream: the server shut its side after the answer
        except TimeoutError:
            pass  # the server kept the connection open: `ended` stays unset
        except OSError:
            ended.set()  # reset after the answer: the server closed with the upload unread

    reader = threading.Thread(target=read)
    reader.start()
    sent = 0
    cut_off = False
    try:
        sock.sendall(head)
        for frame in frames:
            sock.sendall(frame)
            sent += len(frame)
    except TimeoutError:
        pass  # the send blocked: the server neither read nor closed (not cut off)
    except OSError:
        cut_off = True  # reset or broken pipe: the server closed without reading the rest
    reader.join(SEND_TIMEOUT_S)
    sock.close()
    return Upload(bytes(answer), sent, ended.is_set(), cut_off)


def chunked(total: int) -> Iterator[bytes]:
    frame = b"%x\r\n" % _FRAME + b"a" * _FRAME + b"\r\n"
    for _ in range(total // _FRAME):
        yield frame
    yield b"0\r\n\r\n"


def plain(total: int) -> Iterator[bytes]:
    for _ in range(total // _FRAME):
        yield b"a" * _FRAME


def assert_answer(answer: bytes, status: int, code: str) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d" % status), answer[:300]
    assert b"x-request-id" in head.lower() and b"access-control-allow-origin" in head.lower()
    assert json.loads(body)["code"] == code


def assert_413(answer: bytes) -> None:
    assert_answer(answer, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("framing", "path", "status", "code"),
    [
        ("chunked", "/gen", 413, "payload_too_large"),
        ("content-length", "/gen", 413, "payload_too_large"),
        ("chunked", "/favicon.ico", 404, "not_found"),
    ],
)
def test_a_200_mb_upload_is_answered_without_growing_the_worker(
    upload_server: LiveServer, framing: str, path: str, status: int, code: str
) -> None:
    pid = worker_pid(upload_server)
    before = peak_kib(pid)
    start = b"POST %s HTTP/1.1\r\nHost: t\r\n" % path.encode()
    if framing == "chunked":
        head = start + b"Transfer-Encoding: chunked\r\n\r\n"
        sent = upload(upload_server, head, chunked(UPLOAD_BYTES))
    else:
        head = start + b"Content-Length: %d\r\n\r\n" % UPLOAD_BYTES
        sent = upload(upload_server, head, plain(UPLOAD_BYTES))
    assert_answer(sent.answer, status, code)
    growth = peak_kib(pid) - before
    print(
        f"{framing} {path}: worker peak RSS grew {growth} KiB on a {UPLOAD_BYTES >> 20} MiB"
        f" upload; the client got {sent.sent >> 10} KiB sent"
    )
    assert growth < MAX_GROWTH_KIB
    assert sent.ended, "the server kept the connection after its answer"
    assert sent.cut_off, "the upload was not cut off: the server read it or stalled it"
    assert sent.sent < MAX_SENT_BYTES
    assert "Traceback" not in upload_server.output()


def test_the_server_still_serves_after_an_oversized_upload(upload_server: LiveServer) -> None:
    head = b"POST /gen HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\n\r\n"
    assert_413(upload(upload_server, head, plain(70000)).answer)
    health = upload(
        upload_server, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", iter(())
    )
    assert health.answer.startswith(b"HTTP/1.1 200")
