"""The three container images, built and run with podman (no Docker engine here).

`scripts/build_images.sh` builds them from a Debian-made Python 3.11 base (cached outside the
repository); then, on loopback (`--network host`, free ports):

- the trainer publishes a small model into a mounted file:// store;
- the user service runs its migrations against a throwaway PostgreSQL and issues a token;
- the inference service fetches the model, turns ready, answers a triage with that token and
  /metrics, with a read-only root filesystem (tmpfs for its cache and data directories);
- `podman stop` (SIGTERM) drains each service within gunicorn's graceful timeout, exit code 0.

Skips, saying why, where podman cannot run containers (not installed, not root, no runc) or
MEDTRIAGE_SKIP_IMAGES=1. Set MEDTRIAGE_BUILD_CA_BUNDLE where pip needs a proxy's CA to reach
PyPI (only the build stage sees it).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.net import free_ports
from tests.pgserver import PostgresUnavailable, postgres_server

REPO = Path(__file__).resolve().parents[2]
APP_UID = 10001
GRACEFUL_TIMEOUT = 20  # gunicorn_conf.py of both services
TRAIN_LIMIT = 300


def podman_problem() -> str | None:
    if os.environ.get("MEDTRIAGE_SKIP_IMAGES") == "1":
        return "MEDTRIAGE_SKIP_IMAGES=1"
    if not shutil.which("podman"):
        return "podman is not installed (.ci/run installs podman, runc and debootstrap)"
    if os.geteuid() != 0:
        return "not root: the image tests run podman as root (debootstrap, host network)"
    if not shutil.which("runc"):
        return "runc is not installed (crun cannot run these containers on this machine)"
    return None


# Decided at collection, before any session fixture (MedQuAD, PostgreSQL) is set up.
PROBLEM = podman_problem()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PROBLEM is not None, reason=f"image tests skipped: {PROBLEM}"),
]


def podman_cmd() -> list[str]:
    return ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]


def run_limits() -> list[str]:
    """rlimits within this machine's hard limits (podman's defaults may exceed them)."""
    flags = []
    for name, res, want in (
        ("nofile", resource.RLIMIT_NOFILE, 8192),
        ("nproc", resource.RLIMIT_NPROC, 4096),
    ):
        hard = resource.getrlimit(res)[1]
        n = want if hard == resource.RLIM_INFINITY else min(want, hard)
        flags += ["--ulimit", f"{name}={n}:{n}"]
    return flags


def run_flags() -> list[str]:
    """For `podman run`: the limits, and no healthcheck timer (podman wants systemd for it)."""
    return [*run_limits(), "--no-healthcheck"]


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*podman_cmd(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} -> {proc.returncode}\n{proc.stderr[-3000:]}")
    return proc


def say(request: pytest.FixtureRequest, line: str) -> None:
    """Print in the test output even when pytest captures it."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line)


def http(method: str, url: str, body: dict | None = None, token: str | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return None, str(exc)


def wait_ready(url: str, name: str, timeout: float) -> float:
    start = time.monotonic()
    status, body = None, ""
    while time.monotonic() - start < timeout:
        running = podman("inspect", "--format", "{{.State.Running}}", name, check=False)
        if running.stdout.strip() != "true":
            logs = podman("logs", name, check=False)
            raise AssertionError(f"{name} exited before {url} was ready:\n{logs.stderr[-4000:]}")
        status, body = http("GET", url)
        if status == 200:
            return time.monotonic() - start
        time.sleep(0.5)
    logs = podman("logs", name, check=False)
    raise AssertionError(f"{url}: {status} {body[:300]} after {timeout} s\n{logs.stderr[-4000:]}")


@pytest.fixture(scope="module")
def images(request: pytest.FixtureRequest) -> dict[str, str]:
    problem = podman_problem()
    if problem:
        say(request, f"\nimage tests skipped: {problem}")
        pytest.skip(problem)
    tag = f"test-{os.getpid()}"
    env = {**os.environ, "MEDTRIAGE_IMAGE_TAG": tag}
    start = time.monotonic()
    proc = subprocess.run(
        [str(REPO / "scripts" / "build_images.sh")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if proc.returncode != 0 and "debootstrap is not installed" in proc.stderr:
        pytest.skip("the base image is not cached and debootstrap is not installed")
    assert proc.returncode == 0, proc.stderr[-5000:]
    say(request, f"\nimages built in {time.monotonic() - start:.0f} s (tag {tag}):")
    names = {}
    for line in proc.stdout.splitlines():
        match = re.fullmatch(r"image (\S+) (\d+) (\d+)", line)
        if match:
            name, seconds, size = match.group(1), int(match.group(2)), int(match.group(3))
            names[name] = f"localhost/medtriage-{name}:{tag}"
            say(request, f"  medtriage-{name}: {size / 1e6:.0f} MB, built in {seconds} s")
    assert set(names) == {"inference", "users", "trainer"}, proc.stdout

    def untag() -> None:
        for image in names.values():
            podman("untag", image, check=False)

    request.addfinalizer(untag)
    return names


@pytest.fixture(scope="module")
def containers(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Names of the containers started here; removed afterwards (by name, each of them)."""
    started: list[str] = []
    yield started
    for name in started:
        podman("rm", "--force", "--time", "0", name, check=False)


def start(containers: list[str], image: str, role: str, *args: str, env: dict[str, str]) -> str:
    name = f"medtriage-test-{role}-{uuid.uuid4().hex[:8]}"
    flags = [f"--env={k}={v}" for k, v in env.items()]
    podman("run", "--detach", "--name", name, "--network", "host", *run_flags(), *flags, *args,
           image)  # fmt: skip
    containers.append(name)
    return name


@pytest.fixture(scope="module")
def store(images, medquad_csv, request: pytest.FixtureRequest) -> Path:
    """A directory store the trainer container publishes a small model to."""
    root = Path(tempfile.mkdtemp(prefix="medtriage-images-store-"))
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    os.chown(root, APP_UID, APP_UID)
    data = Path(medquad_csv).resolve()
    start_time = time.monotonic()
    proc = podman(
        "run", "--rm", "--network", "host", *run_flags(),
        "--read-only", "--tmpfs", "/app/.cache:rw,U", "--tmpfs", "/app/.data:rw,U",
        "--volume", f"{root}:/store", "--volume", f"{data}:/data/{data.name}:ro",
        "--env", f"MEDTRIAGE_DATA=/data/{data.name}", "--env", "ARTIFACT_STORE=file:///store",
        images["trainer"], "--limit", str(TRAIN_LIMIT), "--epochs", "1",
        timeout=1200, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    say(request, f"  trainer container: published in {time.monotonic() - start_time:.0f} s")
    assert (root / "triage" / "LATEST").is_file()
    return root


@pytest.fixture(scope="module")
def postgres(images) -> Iterator:
    base = Path(tempfile.mkdtemp(prefix="medtriage-images-pg-"))
    try:
        with postgres_server(base) as pg:
            yield pg
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def services(images, store, postgres, containers, request: pytest.FixtureRequest) -> dict:
    users_port, inference_port = free_ports(2)
    users_url = f"http://127.0.0.1:{users_port}"
    inference_url = f"http://127.0.0.1:{inference_port}"
    users = start(
        containers, images["users"], "users",
        "--read-only", "--tmpfs", "/app/.data:rw,U",
        env={
            "USERS_HOST": "127.0.0.1",
            "USERS_PORT": str(users_port),
            "USERS_DATABASE_URL": postgres.create_database("users"),
            "INFERENCE_SERVICE_URL": inference_url,
            # Argon2 at test strength: the test measures the image, not the hash.
            "USERS_ARGON2_MEMORY_COST": "8192",
            "USERS_ARGON2_TIME_COST": "1",
        },
    )  # fmt: skip
    users_ready = wait_ready(f"{users_url}/readyz", users, 120)
    inference = start(
        containers, images["inference"], "inference",
        "--read-only", "--tmpfs", "/app/.cache:rw,U", "--tmpfs", "/app/.data:rw,U",
        "--volume", f"{store}:/store:ro",
        env={
            "INFERENCE_HOST": "127.0.0.1",
            "INFERENCE_PORT": str(inference_port),
            "ARTIFACT_STORE": "file:///store",
            "INFERENCE_DATABASE_URL": postgres.create_database("inference"),
            "USERS_SERVICE_URL": users_url,
        },
    )  # fmt: skip
    ready = wait_ready(f"{inference_url}/readyz", inference, 300)
    say(request, f"  /readyz 200 after {ready:.1f} s (inference), {users_ready:.1f} s (users)")
    return {"users": users, "inference": inference, "users_url": users_url,
            "inference_url": inference_url}  # fmt: skip


def test_triage_with_a_token_from_the_user_service(services, store) -> None:
    email = f"images-{uuid.uuid4().hex[:8]}@example.org"
    password = "images-test-passphrase-7"  # noqa: S105 - a throwaway test account
    credentials = {"email": email, "password": password}
    status, body = http("POST", f"{services['users_url']}/api/v1/users", credentials)
    assert status == 201, body
    status, body = http("POST", f"{services['users_url']}/api/v1/tokens", credentials)
    assert status == 200, body
    token = json.loads(body)["access_token"]
    question = {"question": "What are the symptoms of glaucoma?"}
    url = f"{services['inference_url']}/api/v1/triage"
    assert http("POST", url, question)[0] == 401
    status, body = http("POST", url, question, token=token)
    assert status == 200, body
    result = json.loads(body)
    # A one-epoch model may well abstain; the shape of the answer is what is checked here.
    wanted = {"category", "alternatives", "urgent", "abstained", "answers", "disclaimer"}
    assert wanted <= set(result), result
    assert result["model_version"] == (store / "triage" / "LATEST").read_text().strip()


def test_metrics(services) -> None:
    status, body = http("GET", f"{services['inference_url']}/metrics")
    assert status == 200
    assert "# TYPE" in body and "http_request" in body, body[:500]


def test_runs_unprivileged_without_build_secrets(images, services, request) -> None:
    for role in ("users", "inference"):
        uid = podman("exec", services[role], "id", "-u").stdout.strip()
        assert uid == str(APP_UID), (role, uid)
    for role, image in images.items():
        env = podman("image", "inspect", "--format", "{{json .Config.Env}}", image).stdout
        assert "PIP_CERT" not in env and "medtriage-build-ca" not in env, (role, env)
        user = podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()
        assert user and not user.startswith(("0", "root")), (role, user)
        leak = podman(
            "run", "--rm", "--network", "none", *run_flags(), "--entrypoint", "sh", image, "-c",
            "ls /etc/ssl/certs/medtriage-build-ca.pem /src /app/tests/conftest.py "
            "/app/.git /app/.venv /app/terraform 2>/dev/null; cat /etc/resolv.conf 2>/dev/null "
            "| grep -v '^#' || true",
        )  # fmt: skip
        assert leak.stdout.strip() == "", (role, leak.stdout)


def test_inference_image_holds_only_serving(images, request) -> None:
    listing = podman(
        "run", "--rm", "--network", "none", *run_flags(), "--entrypoint", "sh",
        images["inference"], "-c",
        "ls -A /app; echo ---; python -c 'import sklearn' 2>&1 | tail -1; "
        "python -c 'import matplotlib' 2>&1 | tail -1; echo ---; "
        "du -sh /opt/venv/lib/python3.11/site-packages/* | sort -h | tail -n 12",
    ).stdout  # fmt: skip
    tree, imports, sizes = listing.split("---\n")
    say(request, "  inference image, largest site-packages entries:")
    for line in sizes.strip().splitlines():
        say(request, f"    {line}")
    top = set(tree.split())
    assert "include" not in podman(
        "run", "--rm", "--network", "none", *run_flags(), "--entrypoint", "ls",
        images["inference"], "/opt/venv/lib/python3.11/site-packages/tensorflow",
    ).stdout.split()  # fmt: skip
    assert top == {"medtriage", "inference_service", "common", "templates", "static", "docker",
                   ".cache", ".data"}, top  # fmt: skip
    assert imports.count("ModuleNotFoundError") == 2, imports


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("users", {"user_management_service", "common", "templates", "static", "docker", ".data"}),
        ("trainer", {"medtriage", "training", "common", "docker", ".cache", ".data"}),
    ],
)
def test_other_images_hold_only_their_code(images, role, expected) -> None:
    listing = podman(
        "run", "--rm", "--network", "none", *run_flags(), "--entrypoint", "ls", images[role],
        "-A", "/app",
    ).stdout  # fmt: skip
    assert set(listing.split()) == expected


def test_sigterm_drains_within_the_graceful_timeout(services, request) -> None:
    """`podman stop` sends SIGTERM: gunicorn finishes and exits 0 before the kill at -t."""
    for role in ("inference", "users"):
        name = services[role]
        start_time = time.monotonic()
        podman("stop", "--time", str(GRACEFUL_TIMEOUT + 10), name, timeout=90)
        took = time.monotonic() - start_time
        code = podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        say(request, f"  podman stop {role}: exit code {code} after {took:.1f} s")
        assert code == "0", podman("logs", name, check=False).stderr[-3000:]
        assert took < GRACEFUL_TIMEOUT + 5
