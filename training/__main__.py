"""Command line: `python -m training train|evaluate|feedback`."""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train, evaluate and publish a new model version")
    t.add_argument("--data", help="MedQuAD CSV (default: $MEDTRIAGE_DATA or ../shared/data)")
    t.add_argument("--store", help="artifact store URI (default: $ARTIFACT_STORE)")
    t.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping)")
    t.add_argument("--limit", type=int, help="train on a stratified sample of about N rows")
    t.add_argument(
        "--feedback",
        help="labelled pairs exported by `feedback --export` to add to the re-ranker's data",
    )
    e = sub.add_parser("evaluate", help="print the evaluation report of a published version")
    e.add_argument("--store", help="artifact store URI (default: $ARTIFACT_STORE)")
    e.add_argument("--version", default="latest", help="version to evaluate (default: latest)")
    e.add_argument("--data", help="MedQuAD CSV (default: as for train)")
    f = sub.add_parser("feedback", help="report the ratings of answers; export labelled pairs")
    f.add_argument("--db", help="the inference service's database URL ($INFERENCE_DATABASE_URL)")
    f.add_argument("--export", help="write the ratings as labelled pairs (.csv, else JSONL)")
    f.add_argument("--top", type=int, default=10, help="answers most often unhelpful to list")
    f.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from medtriage.store import ArtifactError
    from training.medquad_xml import MedQuADError

    try:
        if args.command == "train":
            from training.train import main as run
        elif args.command == "feedback":
            from training.feedback import main as run
        else:
            from training.evaluate import main as run
        run(args)
    except (ArtifactError, MedQuADError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
