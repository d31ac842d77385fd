"""A bounded load generator for POST /api/v1/triage (used by the load test and bench_load.py),
`SlowClients`: slow-header and idle connections (tests and bench_slow_clients.py), and a raw
socket client for benchmarks (`triage_request`, `send_raw`).

`run_load` sends exactly `total` requests from `concurrency` threads, each on its own
keep-alive connection, and records every outcome: a status code, or the error that stopped
the request (connection reset by a killed worker, timeout). Nothing is retried, so a request
is either answered or counted as failed: none can go missing.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

QUESTIONS = [
    "What are the symptoms of glaucoma?",
    "How is high blood pressure treated?",
    "What causes kidney stones?",
    "Is cystic fibrosis inherited?",
    "How many people are affected by Huntington disease?",
    "What is the outlook for people with ALS?",
    "How can I prevent osteoporosis?",
    "What tests diagnose celiac disease?",
    "My child has a fever and a rash, what could it be?",
    "What are the treatments for psoriasis?",
]
DELIBERATE = {429, 503}  # overload and not-ready answers the service gives on purpose


@dataclass
class Outcome:
    index: int
    started: float
    ended: float
    status: int | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class LoadResult:
    outcomes: list[Outcome]
    elapsed: float
    events: dict[str, float] = field(default_factory=dict)

    @property
    def statuses(self) -> Counter:
        return Counter(o.status if o.status is not None else o.error for o in self.outcomes)

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 200]

    @property
    def deliberate(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in DELIBERATE]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status not in DELIBERATE | {200}]

    def percentile_ms(self, q: float) -> float:
        latencies = sorted(o.seconds for o in self.ok)
        if not latencies:
            return float("nan")
        if len(latencies) == 1:
            return latencies[0] * 1000
        return statistics.quantiles(latencies, n=100, method="inclusive")[int(q) - 1] * 1000

    def summary(self) -> str:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items(), key=str))
        return (
            f"{len(self.outcomes)} requests in {self.elapsed:.1f}s "
            f"({len(self.outcomes) / self.elapsed:.0f}/s): {counts}; "
            f"p50 {self.percentile_ms(50):.0f} ms, p99 {self.percentile_ms(99):.0f} ms"
        )


def run_load(
    host: str,
    port: int,
    token: str,
    total: int,
    concurrency: int,
    timeout: float = 60.0,
    on_sent: Callable[[int], None] | None = None,
) -> LoadResult:
    """Send `total` triage requests over `concurrency` connections; on_sent(i) before each."""
    counter = itertools.count()
    lock = threading.Lock()
    outcomes: list[Outcome] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            while True:
                with lock:
                    i = next(counter)
                if i >= total:
                    return
                if on_sent:
                    on_sent(i)
                body = json.dumps({"question": QUESTIONS[i % len(QUESTIONS)], "top_k": 3})
                outcome = Outcome(i, time.monotonic(), 0.0)
                try:
                    conn.request("POST", "/api/v1/triage", body=body, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    outcome.status = resp.status
                    if resp.getheader("Connection", "").lower() == "close":
                        conn.close()
                except (OSError, http.client.HTTPException) as exc:
                    outcome.error = type(exc).__name__
                    conn.close()  # a new connection for the next request
                outcome.ended = time.monotonic()
                with lock:
                    outcomes.append(outcome)
        finally:
            conn.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout * 10)
    return LoadResult(sorted(outcomes, key=lambda o: o.index), time.monotonic() - started)


def triage_request(token: str, question: str, top_k: int = 3) -> bytes:
    """One whole POST /api/v1/triage request as bytes (Connection: close), built once."""
    body = json.dumps({"question": question, "top_k": top_k}).encode()
    head = (
        "POST /api/v1/triage HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def send_raw(port: int, request: bytes, timeout: float = 60.0) -> tuple[int, bytes]:
    """Send a prepared request on a new connection; (status, whole response) read to close.

    For benchmarks on one machine: the client shares the CPU with the server it measures,
    and http.client's request building and header parsing cost about 0.5 ms per request."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    status = int(data[9:12]) if data[:7] == b"HTTP/1." and data[9:12].isdigit() else 0
    return status, data


class SlowClients:
    """Connections that send a request line, then one header line a second, never finishing;
    and idle ones that send nothing (what a browser opens ahead of time)."""

    def __init__(self, port: int, slow: int, idle: int):
        self.port, self.slow, self.idle = port, slow, idle
        self.stop = threading.Event()
        self.socks: list[socket.socket] = []
        self.lines_sent = 0
        self.threads = [threading.Thread(target=self._trickle, daemon=True) for _ in range(slow)]

    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.socks.append(s)
        return s

    def _trickle(self) -> None:
        s = self._connect()
        s.sendall(b"POST /api/v1/triage HTTP/1.1\r\nHost: x\r\n")
        i = 0
        while not self.stop.wait(1.0):
            try:
                s.sendall(f"X-Slow-{i}: {'a' * 20}\r\n".encode())
                self.lines_sent += 1
            except OSError:  # closed by the server's read timeout: come back, as an attacker would
                s = self._connect()
                s.sendall(b"POST /api/v1/triage HTTP/1.1\r\nHost: x\r\n")
            i += 1

    def __enter__(self):
        for _ in range(self.idle):
            self._connect()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(5)
        for s in self.socks:
            with contextlib.suppress(OSError):
                s.close()
