"""The question categories: MedQuAD's question types, merged where a person's words don't tell
them apart, plus `unanswerable` for questions the knowledge base has no answers for (medicines).

Adding a category: map MedQuAD's `qtype` to it here; training learns it from the data.
"""

from __future__ import annotations

UNANSWERABLE = "unanswerable"
# `support groups` has a single row: too few to learn, and its answer is general information.
# `considerations` ("What to do for X ?": diet and self-care) is, in a person's words, a
# treatment question; kept apart, it captured most consumer "what can I do for X" questions.
MERGED_QTYPES = {"support groups": "information", "considerations": "treatment"}
