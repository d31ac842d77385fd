"""Container health probe: exit 0 when URL answers 200 (the slim image has no curl)."""

from __future__ import annotations

import sys
import urllib.request


def main(url: str) -> int:
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        print(f"healthcheck.py only probes local URLs, not {url}", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(url, timeout=4) as response:  # noqa: S310 - local http only
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/readyz"))
