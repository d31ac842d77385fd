"""Pieces both Flask services share: JSON errors, request hygiene, logs, metrics, OpenAPI."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = REPO_ROOT / "templates"
STATIC_DIR = REPO_ROOT / "static"
