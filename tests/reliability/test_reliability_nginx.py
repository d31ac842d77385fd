"""nginx (Debian's /usr/sbin/nginx) with the project's docker/nginx.conf in front of both
services under real gunicorn: slow clients do not block others, bodies over 16 KiB get 413.

To show the proxy does the work, the inference service here runs stock gthread with one
worker, one thread and one connection: reached directly, a single slow client would stall
it. Only the upstream addresses, the listen ports and the paths nginx writes to are changed
from the shipped file.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from testkit.gunicorn import REPO, gunicorn_server, inference_env
from testkit.net import free_ports, stop_process, wait_for
from tests.reliability.conftest import token_through

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def render_conf(tmp: Path, inference: int, users: int, ports: tuple[int, int]) -> Path:
    """docker/nginx.conf with test upstreams, loopback listen ports, and writable paths."""
    text = (REPO / "docker" / "nginx.conf").read_text()
    replacements = {
        "server inference:8000;": f"server 127.0.0.1:{inference};",
        "server users:8001;": f"server 127.0.0.1:{users};",
        "listen 8000;": f"listen 127.0.0.1:{ports[0]};",
        "listen 8001;": f"listen 127.0.0.1:{ports[1]};",
        "pid /tmp/nginx.pid;": f"pid {tmp}/nginx.pid;",
    }
    for old, new in replacements.items():
        assert old in text, f"docker/nginx.conf no longer has {old!r}"
        text = text.replace(old, new)
    temp = "".join(
        f"    {kind}_temp_path {tmp}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = re.sub(r"^http \{\n", "http {\n" + temp, text, count=1, flags=re.M)
    conf = tmp / "nginx.conf"
    conf.write_text(text)
    return conf


@contextlib.contextmanager
def nginx(conf: Path, port: int):
    log = open(conf.parent / "nginx.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [NGINX, "-p", str(conf.parent), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:

        def listening() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return True
            return False

        assert wait_for(listening, timeout=15), (conf.parent / "nginx.log").read_text()
        yield proc
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture
def stack(tmp_path):
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run does it)")
    users_port, inference_port, proxy_inference, proxy_users = free_ports(4)
    proxied_users = f"http://127.0.0.1:{proxy_users}"
    users_env = {
        "USERS_HOST": "127.0.0.1",
        "USERS_DATA_DIR": str(tmp_path / "users"),
        "USERS_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}",
        "USERS_WORKERS": "1",
        "USERS_ARGON2_TIME_COST": "1",
        "USERS_ARGON2_MEMORY_COST": "1024",
        "USERS_ARGON2_PARALLELISM": "1",
        "USERS_TRUSTED_PROXIES": "1",
        "INFERENCE_SERVICE_URL": f"http://127.0.0.1:{inference_port}",
        "USERS_PUBLIC_URL": proxied_users,
    }
    # Stock gthread, one thread, one connection: nothing but nginx protects it.
    fragile_inference = inference_env(
        tmp_path, f"http://127.0.0.1:{users_port}",
        MEDTRIAGE_DATA_DIR=str(tmp_path / "inference"), LOG_LEVEL="WARNING",
        INFERENCE_WORKER_CLASS="gthread", INFERENCE_WORKERS="1", INFERENCE_THREADS="1",
        INFERENCE_WORKER_CONNECTIONS="1",
    )  # fmt: skip
    (tmp_path / "users").mkdir()
    conf = render_conf(tmp_path, inference_port, users_port, (proxy_inference, proxy_users))
    with (
        gunicorn_server(users_env, tmp_path / "users.log", users_port, service="users") as users,
        gunicorn_server(
            fragile_inference, tmp_path / "inference.log", inference_port,
            app="tests.inference.fake_wsgi:app",
        ) as inference,
        nginx(conf, proxy_inference),
    ):  # fmt: skip
        users.wait_ready(timeout=120)
        inference.wait_ready(timeout=60)
        yield f"http://127.0.0.1:{proxy_inference}", proxied_users


def test_slow_clients_through_nginx_do_not_block_others(stack):
    inference_url, users_url = stack
    port = int(inference_url.rsplit(":", 1)[1])
    token = token_through(users_url, "nginx@example.org", "a long enough passphrase 42")
    stop = threading.Event()
    socks: list[socket.socket] = []

    def slow_body() -> None:
        # Whole headers, then the body a byte every half second: nginx holds it, not gunicorn.
        body = json.dumps({"question": "What is gout?"}).encode()
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        socks.append(s)
        s.sendall(
            b"POST /api/v1/triage HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        for byte in body[:-1]:
            if stop.wait(0.5):
                return
            with contextlib.suppress(OSError):
                s.sendall(bytes([byte]))

    def slow_head() -> None:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        socks.append(s)
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        while not stop.wait(0.5):
            with contextlib.suppress(OSError):
                s.sendall(b"X-Slow: a\r\n")

    threads = [threading.Thread(target=slow_body, daemon=True) for _ in range(8)]
    threads += [threading.Thread(target=slow_head, daemon=True) for _ in range(8)]
    for _ in range(8):
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=30))  # idle
    try:
        for t in threads:
            t.start()
        time.sleep(2)  # the slow clients are mid-request
        for _ in range(5):
            assert requests.get(f"{inference_url}/healthz", timeout=20).status_code == 200
        resp = requests.post(
            f"{inference_url}/api/v1/triage",
            json={"question": "How is gout treated?"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["history_saved"] is True
        assert requests.get(f"{users_url}/healthz", timeout=20).status_code == 200
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        for s in socks:
            with contextlib.suppress(OSError):
                s.close()


def test_body_over_16_kib_gets_413_from_the_proxy(stack):
    inference_url, users_url = stack
    big = json.dumps({"question": "x" * 20_000})
    for url in (f"{inference_url}/api/v1/triage", f"{users_url}/api/v1/users"):
        resp = requests.post(
            url, data=big, headers={"Content-Type": "application/json"}, timeout=20
        )
        assert resp.status_code == 413, (url, resp.status_code, resp.text)
        assert resp.json()["error"]["code"] == "payload_too_large"
        assert resp.headers["Content-Type"].startswith("application/json")
    # Under the limit, the request reaches the service (which answers itself).
    resp = requests.post(f"{inference_url}/api/v1/triage", json={"question": "gout"}, timeout=20)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"
