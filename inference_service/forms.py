"""HTML forms (flask-wtf: CSRF token in every form)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, SubmitField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from .schemas import (
    FEEDBACK_REASONS,
    QUESTION_MAX,
    QUESTION_MIN,
    TOP_K_DEFAULT,
    TOP_K_MAX,
    TOP_K_MIN,
)


class AskForm(FlaskForm):
    question = TextAreaField(
        "Your question",
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[
            DataRequired(message="Please type a question."),
            Length(
                min=QUESTION_MIN,
                max=QUESTION_MAX,
                message=f"The question must be {QUESTION_MIN} to {QUESTION_MAX} characters long.",
            ),
        ],
    )
    top_k = IntegerField(
        "Number of answers",
        default=TOP_K_DEFAULT,
        validators=[
            Optional(),
            NumberRange(TOP_K_MIN, TOP_K_MAX, message=f"Choose {TOP_K_MIN} to {TOP_K_MAX}."),
        ],
    )
    submit = SubmitField("Ask")


class DeleteHistoryForm(FlaskForm):
    submit = SubmitField("Delete all my history")


class FeedbackForm(FlaskForm):
    """Rendered by templates/_feedback.html (one per answer, with ids made unique there)."""

    helpful = StringField(
        "Did this answer help?",
        validators=[
            InputRequired(message="Choose helpful or not helpful."),
            AnyOf(["yes", "no"], message="Choose helpful or not helpful."),
        ],
    )
    reason = StringField(
        "Reason (optional)",
        validators=[Optional(), AnyOf(list(FEEDBACK_REASONS), message="Choose a listed reason.")],
    )
    submit = SubmitField("Send rating")


class WithdrawFeedbackForm(FlaskForm):
    submit = SubmitField("Withdraw rating")
