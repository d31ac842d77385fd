"""Request and response schemas (marshmallow); also the source of the OpenAPI components."""

from __future__ import annotations

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields, validate, validates

from medtriage.answer import answer_fields

QUESTION_MIN = 3
QUESTION_MAX = 2000
TOP_K_MIN = 1
TOP_K_MAX = 20
TOP_K_DEFAULT = 3

DISCLAIMER = (
    "This is general health information from NIH sources, not medical advice. "
    "It cannot diagnose you; ask a doctor or pharmacist about your situation, and in an "
    "emergency call your local emergency number."
)


class TriageRequest(Schema):
    class Meta:
        unknown = RAISE

    question = fields.String(
        required=True,
        metadata={"description": f"{QUESTION_MIN} to {QUESTION_MAX} characters"},
        validate=validate.Length(max=QUESTION_MAX),
    )
    top_k = fields.Integer(
        strict=True,
        load_default=TOP_K_DEFAULT,
        validate=validate.Range(min=TOP_K_MIN, max=TOP_K_MAX),
        metadata={"description": "how many answers to return"},
    )

    @validates("question")
    def _long_enough(self, value: str, **_kwargs) -> None:
        if len(value.strip()) < QUESTION_MIN:
            raise ValidationError(f"Question must be at least {QUESTION_MIN} characters.")


class Response(Schema):
    """Responses may gain fields (the contract allows extending): documented as open objects."""

    class Meta:
        unknown = INCLUDE


class TriageLabel(Response):
    label = fields.String(required=True)
    confidence = fields.Float(required=True)


class UrgentReason(Response):
    code = fields.String(
        required=True, metadata={"description": "emergency category, e.g. stroke, self_harm"}
    )
    message = fields.String(required=True, metadata={"description": "what it is and what to do"})


def _answer_schema() -> type[Schema]:
    """TriageAnswer, generated from `medtriage.answer.Answer` (one definition of the fields)."""
    kinds = {"str": fields.String, "float": fields.Float, "int": fields.Integer}
    return Response.from_dict(
        {
            name: kinds[str(kind)](
                required=meta["required"], metadata={"description": meta["description"]}
            )
            for name, kind, meta in answer_fields()
        },
        name="TriageAnswer",
    )


TriageAnswer = _answer_schema()


class TriageFocus(Response):
    text = fields.String(required=True, metadata={"description": "as written in the question"})
    matched = fields.String(required=True, metadata={"description": "the MedQuAD condition"})
    confidence = fields.Float(required=True)


class TriageResource(Response):
    title = fields.String(required=True)
    url = fields.String(required=True)


class TriageResponse(Response):
    focus = fields.Nested(
        TriageFocus,
        allow_none=True,
        metadata={"description": "the condition asked about; null when none is recognised"},
    )
    question_summary = fields.String(
        allow_none=True, metadata={"description": "the question as we understood it"}
    )
    category = fields.Nested(TriageLabel, required=True)
    categories = fields.List(
        fields.String(), metadata={"description": "every category the question asks about"}
    )
    alternatives = fields.List(fields.Nested(TriageLabel), required=True)
    urgent = fields.Boolean(required=True)
    urgent_message = fields.String(allow_none=True)
    urgent_reasons = fields.List(
        fields.Nested(UrgentReason),
        metadata={"description": "why it looks urgent and what to do; empty when not urgent"},
    )
    abstained = fields.Boolean(required=True)
    abstain_reason = fields.String(allow_none=True)
    answers = fields.List(fields.Nested(TriageAnswer), required=True)
    resources = fields.List(
        fields.Nested(TriageResource), metadata={"description": "link lists, not answers"}
    )
    model_version = fields.String(required=True)
    disclaimer = fields.String(required=True)
    history_saved = fields.Boolean(
        metadata={"description": "whether the question was stored in your history"}
    )
    latency_ms = fields.Float(metadata={"description": "time spent in the model"})
    history_id = fields.Integer(
        allow_none=True,
        metadata={
            "description": "id of the saved history entry (rate its answers by it); null if not saved"
        },
    )


class InferenceModelInfo(Response):
    version = fields.String(required=True)
    labels = fields.List(fields.String(), required=True)
    metrics = fields.Dict(required=True)
    trained_at = fields.String(required=True, allow_none=True)


class InferenceHistoryItem(Response):
    id = fields.Integer(required=True)
    question = fields.String(required=True)
    category = fields.String(required=True, allow_none=True)
    urgent = fields.Boolean(required=True)
    abstained = fields.Boolean(required=True)
    answer_ids = fields.List(fields.String(), required=True)
    model_version = fields.String(required=True)
    latency_ms = fields.Float(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    feedback = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(lambda: AnswerRating()),
        metadata={"description": "the caller's ratings of this entry's answers, by answer id"},
    )


class InferenceHistoryList(Response):
    items = fields.List(fields.Nested(InferenceHistoryItem), required=True)
    total = fields.Integer(required=True)
    retention_days = fields.Float(required=True)


class InferenceHistoryDeleted(Response):
    deleted = fields.Integer(required=True)


class InferenceStatus(Response):
    status = fields.String(required=True)
    model_version = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)


# Why an answer did not help; "other" takes no free text (it could hold health data).
FEEDBACK_REASONS = {
    "wrong_topic": "Wrong topic",
    "not_what_i_asked": "Not what I asked",
    "too_technical": "Too technical",
    "out_of_date": "Out of date",
    "other": "Other",
}
FEEDBACK_REASON_CODES = tuple(FEEDBACK_REASONS)


class StrictBoolean(fields.Boolean):
    """true or false only: not "yes", 1 or "true"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class FeedbackRequest(Schema):
    class Meta:
        unknown = RAISE

    helpful = StrictBoolean(required=True, metadata={"description": "did this answer help"})
    reason = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(FEEDBACK_REASON_CODES),
        metadata={"description": "optional: why it did not help (or any rating's reason)"},
    )


class AnswerRating(Response):
    history_id = fields.Integer(required=True)
    answer_id = fields.String(required=True)
    helpful = fields.Boolean(required=True)
    reason = fields.String(required=True, allow_none=True)
    model_version = fields.String(required=True)
    updated_at = fields.String(required=True, metadata={"format": "date-time"})


class AnswerRatingWithdrawn(Response):
    withdrawn = fields.Boolean(
        required=True, metadata={"description": "false when there was no rating to withdraw"}
    )
