"""A gunicorn gthread worker whose threads only ever run the app, never wait on a client.

Stock gthread (gunicorn 27) hands every accepted connection to a pool thread, which waits up
to 5 s for the first byte and then parses the headers with a blocking read that has no
deadline. With two threads per worker, four idle sockets or a few clients sending their
headers a line a second hold every thread, and `worker_connections` (which we set to the
thread count) makes the worker stop accepting. Here the worker's event loop reads each
request (headers, and a Content-Length body up to `max_buffer` bytes) without blocking, and a
connection goes to a pool thread only once its request is complete:

- idle and slow connections cost a selector entry, not a thread, and are closed when they
  have not sent a whole request within `read_timeout` seconds;
- the worker stops accepting while all its threads are busy (instead of at a connection
  count), so an idle sibling takes the next connection, whatever slow clients are open;
- blocking reads and writes in a thread (a chunked or oversized body, a client that does not
  read its answer) time out after `io_timeout` seconds instead of never.

Both services use it (`worker_class` in their gunicorn_conf.py). A reverse proxy in front
(nginx, the ALB) still does the buffering in production; this keeps `make run` and a worker
reached directly from being starved.
"""

from __future__ import annotations

import errno
import os
import re
import selectors
import socket
import time
from functools import partial

from gunicorn.workers import gthread

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*(\d+)[ \t]*$", re.I | re.M)
# Bodies we leave to the pool thread: chunked ones, and clients waiting for "100 Continue".
_HANDOVER = re.compile(rb"^(transfer-encoding|expect)[ \t]*:", re.I | re.M)


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class _TimedSocket(socket.socket):
    """A client socket whose "blocking" mode has a timeout (gthread sets blocking mode)."""

    io_timeout: float | None = None

    def setblocking(self, flag: bool) -> None:
        if flag and self.io_timeout:
            self.settimeout(self.io_timeout)
        else:
            super().setblocking(flag)


def request_complete(buffered: bytes | bytearray, max_buffer: int) -> bool:
    """Whether a pool thread can parse this request without waiting on the client."""
    end = buffered.find(_HEAD_END)
    if end < 0:
        return len(buffered) > max_buffer  # let gunicorn refuse an oversized head
    head = bytes(buffered[:end])
    if _HANDOVER.search(head):
        return True
    match = _CONTENT_LENGTH.search(head)
    if match is None:
        return True
    length = int(match.group(1))
    return length > max_buffer or len(buffered) >= end + len(_HEAD_END) + length


class BufferedThreadWorker(gthread.ThreadWorker):
    read_timeout = _env_float("GUNICORN_REQUEST_READ_TIMEOUT", 10.0)
    io_timeout = _env_float("GUNICORN_SOCKET_TIMEOUT", 30.0)
    max_buffer = 64 * 1024  # above the 16 KiB API bodies; larger ones are refused by the app

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nr_busy = 0  # connections handed to the thread pool and not finished

    # -- reading requests in the event loop ------------------------------------------------

    def accept(self, listener):
        try:
            client, addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        sock = _TimedSocket(client.family, client.type, client.proto, fileno=client.detach())
        sock.io_timeout = self.io_timeout
        conn = gthread.TConn(self.cfg, sock, addr, listener.getsockname())
        self._read_request(conn)

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection has more to say: read its next request here too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_request(conn)

    def _read_request(self, conn):
        conn.buffered = bytearray()
        # pending_conns is closed by murder_pending() at conn.timeout; all entries get the
        # same delay, so the deque stays in deadline order as it expects.
        conn.timeout = time.monotonic() + self.read_timeout
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _on_readable(self, conn, client):
        try:
            data = conn.sock.recv(self.max_buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away before sending a whole request
            self._forget(conn)
            self.nr_conns -= 1
            conn.close()
            return
        conn.buffered += data
        if request_complete(conn.buffered, self.max_buffer):
            self._forget(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def _forget(self, conn):
        self.poller.unregister(conn.sock)
        self.pending_conns.remove(conn)

    # -- in the pool thread ---------------------------------------------------------------

    def handle(self, conn):
        buffered = getattr(conn, "buffered", None)
        if buffered:
            if not conn.initialized:
                conn.sock.setblocking(True)
                conn.init()
            conn.parser.unreader.unread(bytes(buffered))
            conn.buffered = bytearray()
        return super().handle(conn)

    # -- admission: accept only while a thread is free ------------------------------------

    def enqueue_req(self, conn):
        self.nr_busy += 1
        if self.nr_busy >= self.cfg.threads:
            super().set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.nr_busy -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled):
        # run() asks on every loop turn while the answer differs: re-checked as threads free up.
        super().set_accept_enabled(enabled and self.nr_busy < self.cfg.threads)
