"""Command line: `python -m inference_service fetch` downloads and verifies the model;
`python -m inference_service serve` runs gunicorn with the service's config."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .config import Config
from .model import StoreSource

HERE = Path(__file__).resolve().parent


def fetch(args: argparse.Namespace) -> int:
    """Resolve MODEL_VERSION, download it to the cache and verify every checksum."""
    cfg = Config()
    store = args.store or cfg.ARTIFACT_STORE
    spec = args.version or cfg.MODEL_VERSION
    source = StoreSource(store, args.cache_dir or cfg.MODEL_CACHE_DIR)
    started = time.perf_counter()
    try:
        version = source.resolve(spec)
        path = source.fetch(version)
    except Exception as exc:
        print(f"fetch failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"fetched {version} into {path} in {time.perf_counter() - started:.1f}s")
    return 0


def serve(args: argparse.Namespace) -> int:
    """Exec gunicorn with inference_service/gunicorn_conf.py (never --preload)."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    argv = [
        str(gunicorn) if gunicorn.exists() else "gunicorn",
        "-c",
        str(HERE / "gunicorn_conf.py"),
        "inference_service.wsgi:app",
    ]
    os.execvp(argv[0], argv)  # noqa: S606 - fixed argv, no shell  # nosec B606
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference_service")
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help=fetch.__doc__)
    p_fetch.add_argument("--store", help="artifact store URI (default: ARTIFACT_STORE)")
    p_fetch.add_argument("--version", help="version or 'latest' (default: MODEL_VERSION)")
    p_fetch.add_argument("--cache-dir", help="local cache (default: MODEL_CACHE_DIR)")
    p_fetch.set_defaults(func=fetch)
    p_serve = sub.add_parser("serve", help=serve.__doc__)
    p_serve.set_defaults(func=serve)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
