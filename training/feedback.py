"""`python -m training feedback`: what people said about the answers, and labelled pairs from it.

The inference service stores ratings (answer_feedback) next to the query history
(inference_history) in its database. The question text lives only in the history, for its
retention period; a rating has none of its own, so the export takes the question from there
(ratings of purged entries are purged with them).

- the report: per model version, how many answers were rated and the helpful share; the
  answers most often rated unhelpful, with their reasons;
- `--export PATH`: the ratings as labelled (question, answer id, helpful) pairs, JSONL or CSV
  (by the file's extension), which `python -m training train --feedback PATH` adds to the
  re-ranker's training data.

Reads the tables by name (training never imports the service).
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

import sqlalchemy as sa

EXPORT_FIELDS = [
    "question",
    "answer_id",
    "helpful",
    "reason",
    "model_version",
    "category",
    "focus",
    "rank",
    "rated_at",
]

_QUERY = sa.text(
    "SELECT h.question, f.answer_id, f.helpful, f.reason, f.model_version, f.category, "
    "f.focus, f.rank, f.updated_at "
    "FROM answer_feedback f JOIN inference_history h ON h.id = f.history_id "
    "ORDER BY f.id"
)


def read_ratings(db_url: str) -> list[dict]:
    """Every rating with its question, oldest first; ValueError if there are no such tables."""
    engine = sa.create_engine(db_url)
    try:
        if not sa.inspect(engine).has_table("answer_feedback"):
            raise ValueError(
                f"{_safe(db_url)} has no answer_feedback table: is it the inference service's "
                "database (INFERENCE_DATABASE_URL), migrated by a service version with feedback?"
            )
        with engine.connect() as conn:
            rows = conn.execute(_QUERY).mappings().all()
    finally:
        engine.dispose()
    out = []
    for r in rows:
        rated_at = r["updated_at"]
        out.append(
            {
                "question": r["question"],
                "answer_id": r["answer_id"],
                "helpful": bool(r["helpful"]),
                "reason": r["reason"],
                "model_version": r["model_version"],
                "category": r["category"],
                "focus": r["focus"],
                "rank": r["rank"],
                "rated_at": str(
                    rated_at.isoformat() if hasattr(rated_at, "isoformat") else rated_at
                ),
            }
        )
    return out


def _safe(db_url: str) -> str:
    """The URL without its password, for messages."""
    return sa.engine.make_url(db_url).render_as_string(hide_password=True)


def summarize(ratings: list[dict], top: int = 10) -> dict:
    """Per model version: answers rated, helpful share; the answers most often unhelpful."""
    by_version: dict[str, list[bool]] = defaultdict(list)
    per_answer: dict[str, dict] = {}
    for r in ratings:
        by_version[r["model_version"]].append(r["helpful"])
        a = per_answer.setdefault(
            r["answer_id"], {"rated": 0, "unhelpful": 0, "reasons": Counter()}
        )
        a["rated"] += 1
        if not r["helpful"]:
            a["unhelpful"] += 1
            a["reasons"][r["reason"] or "none given"] += 1
    versions = {
        v: {
            "rated": len(marks),
            "helpful": sum(marks),
            "helpful_share": round(sum(marks) / len(marks), 4),
        }
        for v, marks in sorted(by_version.items())
    }
    worst = sorted(
        ((aid, a) for aid, a in per_answer.items() if a["unhelpful"]),
        key=lambda kv: (-kv[1]["unhelpful"], -kv[1]["rated"], kv[0]),
    )[:top]
    return {
        "ratings": len(ratings),
        "versions": versions,
        "most_unhelpful": [
            {
                "answer_id": aid,
                "unhelpful": a["unhelpful"],
                "rated": a["rated"],
                "reasons": dict(a["reasons"].most_common()),
            }
            for aid, a in worst
        ],
    }


def format_summary(summary: dict) -> str:
    lines = [f"{summary['ratings']} ratings"]
    if summary["versions"]:
        lines += ["", f"{'model version':<32} {'rated':>7} {'helpful':>8}"]
        for version, s in summary["versions"].items():
            lines.append(f"{version:<32} {s['rated']:>7} {s['helpful_share']:>8.1%}")
    if summary["most_unhelpful"]:
        lines += ["", "answers most often rated unhelpful:"]
        for a in summary["most_unhelpful"]:
            reasons = ", ".join(f"{k} {n}" for k, n in a["reasons"].items())
            lines.append(
                f"  {a['answer_id']:<28} {a['unhelpful']} of {a['rated']} unhelpful ({reasons})"
            )
    return "\n".join(lines)


def export(ratings: list[dict], path: str | Path) -> int:
    """Write the ratings as labelled pairs: CSV for a .csv file, else JSON lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        if _is_csv(path):
            writer = csv.DictWriter(f, fieldnames=EXPORT_FIELDS)
            writer.writeheader()
            for r in ratings:
                writer.writerow({**r, "helpful": "true" if r["helpful"] else "false"})
        else:
            for r in ratings:
                f.write(json.dumps({k: r[k] for k in EXPORT_FIELDS}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)  # health data: never a half-written file under the real name
    return len(ratings)


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def _label(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{where}: helpful must be true or false, not {value!r}")


def load_feedback_pairs(path: str | Path) -> list[tuple[str, str, bool]]:
    """(question text, MedQuAD answer id, helpful) from an export (JSONL or CSV)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"feedback file {path} does not exist")
    pairs: list[tuple[str, str, bool]] = []
    with open(path, newline="", encoding="utf-8") as f:
        if _is_csv(path):
            rows = enumerate(csv.DictReader(f), start=2)
        else:
            rows = (
                (n, _json_line(line, f"{path}:{n}"))
                for n, line in enumerate(f, start=1)
                if line.strip()
            )
        for n, row in rows:
            where = f"{path}:{n}"
            try:
                question, answer_id = str(row["question"]).strip(), str(row["answer_id"]).strip()
                helpful = _label(row["helpful"], where)
            except KeyError as exc:
                raise ValueError(f"{where}: missing field {exc}") from None
            if not question or not answer_id:
                raise ValueError(f"{where}: question and answer_id must not be empty")
            pairs.append((question, answer_id, helpful))
    return pairs


def _json_line(line: str, where: str) -> dict:
    try:
        row = json.loads(line)
    except ValueError:
        raise ValueError(f"{where}: not a JSON object") from None
    if not isinstance(row, dict):
        raise ValueError(f"{where}: not a JSON object")
    return row


def main(args) -> None:
    db = args.db or os.environ.get("INFERENCE_DATABASE_URL")
    if not db:
        raise ValueError("give the inference service's database: --db URL")
    ratings = read_ratings(db)
    summary = summarize(ratings, top=args.top)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    if args.export:
        n = export(ratings, args.export)
        print(f"exported {n} labelled pairs to {args.export}", file=sys.stderr)
