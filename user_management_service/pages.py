"""HTML pages: register, log in, log out, account. Forms carry CSRF tokens (flask-wtf)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import EqualTo, InputRequired

from user_management_service import accounts
from user_management_service.accounts import AccountError
from user_management_service.auth import cookie_token, user_from_token
from user_management_service.models import User
from user_management_service.passwords import MIN_LENGTH
from user_management_service.tokens import TokenError, issue_token

bp = Blueprint("pages", __name__)

PASSWORD_HINT = f"At least {MIN_LENGTH} characters; common passwords are refused."


class RegisterForm(FlaskForm):
    email = EmailField("Email", [InputRequired("Enter your email address.")])
    password = PasswordField(
        "Password", [InputRequired("Choose a password.")], description=PASSWORD_HINT
    )
    confirm = PasswordField(
        "Repeat password",
        [InputRequired("Repeat the password."), EqualTo("password", "The passwords do not match.")],
    )


class LoginForm(FlaskForm):
    email = EmailField("Email", [InputRequired("Enter your email address.")])
    password = PasswordField("Password", [InputRequired("Enter your password.")])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", [InputRequired("Enter your current password.")]
    )
    new_password = PasswordField(
        "New password", [InputRequired("Choose a new password.")], description=PASSWORD_HINT
    )
    confirm = PasswordField(
        "Repeat new password",
        [
            InputRequired("Repeat the new password."),
            EqualTo("new_password", "The passwords do not match."),
        ],
    )


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        "Password",
        [InputRequired("Enter your password to confirm.")],
        description="Deleting removes your account and your question history. It cannot be undone.",
    )


class LogoutForm(FlaskForm):
    pass


# Which form field shows an account error with this code.
_FIELD_FOR_CODE = {
    "invalid_email": "email",
    "email_taken": "email",
    "password_too_short": "password",  # nosec B105 - form field names
    "password_too_long": "password",  # nosec B105 - form field names
    "password_too_common": "password",  # nosec B105 - form field names
    "wrong_password": "current_password",  # nosec B105 - form field names
}


def _show_error(form: FlaskForm, exc: AccountError, field_map: dict | None = None) -> None:
    name = (field_map or {}).get(exc.code, _FIELD_FOR_CODE.get(exc.code))
    field = getattr(form, name, None) if name else None
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


def _page(template: str, status: int = 200, headers: dict | None = None, **context) -> Response:
    resp = make_response(render_template(template, **context), status)
    resp.headers.update(headers or {})
    resp.headers["Cache-Control"] = "no-store"
    return resp


def current_page_user() -> User | None:
    token = cookie_token()
    if not token:
        return None
    try:
        return user_from_token(token)
    except TokenError:
        return None


def set_token_cookie(resp: Response, token: str, ttl: int) -> None:
    cfg = current_app.config
    resp.set_cookie(
        cfg["TOKEN_COOKIE_NAME"],
        token,
        max_age=ttl,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure or bool(cfg.get("SESSION_COOKIE_SECURE")),
    )


def clear_token_cookie(resp: Response) -> None:
    cfg = current_app.config
    resp.delete_cookie(
        cfg["TOKEN_COOKIE_NAME"],
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.is_secure or bool(cfg.get("SESSION_COOKIE_SECURE")),
    )


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Registration form."""
    form = RegisterForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            accounts.limit_requests("register")
            accounts.register(form.email.data or "", form.password.data or "")
        except AccountError as exc:
            _show_error(form, exc)
            status, headers = exc.status, exc.headers
        else:
            flash("Your account is ready. Log in with your email and password.", "success")
            return redirect(url_for("pages.login", email=form.email.data.strip().lower()), 303)
    elif request.method == "POST":
        status = 400
    return _page("users/register.html", status, headers, form=form, user=current_page_user())


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log-in form; sets the medtriage_token cookie and goes to the inference page."""
    form = LoginForm()
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args["email"][:254]
    status, headers = 200, {}
    if form.validate_on_submit():
        try:
            accounts.limit_requests("token")
            user = accounts.authenticate(form.email.data or "", form.password.data or "")
        except AccountError as exc:
            form.form_errors.append(exc.message)
            status, headers = exc.status, exc.headers
        else:
            token, ttl = issue_token(user)
            target = f"{current_app.config['INFERENCE_PUBLIC_URL']}/inference"
            resp = redirect(target, 303)
            set_token_cookie(resp, token, ttl)
            return resp
    elif request.method == "POST":
        status = 400
    return _page("users/login.html", status, headers, form=form, user=None)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Log out: clear the token cookie (GET too, so a plain link works)."""
    if request.method == "POST":
        LogoutForm().validate_on_submit()  # CSRFProtect has already checked the token
    resp = _page("users/logout.html", user=None)
    clear_token_cookie(resp)
    return resp


@bp.get("/account")
def account():
    """Account page: details, change password, delete account."""
    user = current_page_user()
    if user is None:
        flash("Log in to see your account.", "error")
        return redirect(url_for("pages.login"), 303)
    return _account_page(user)


def _account_page(user, status=200, password_form=None, delete_form=None) -> Response:
    return _page(
        "users/account.html",
        status,
        user=user,
        password_form=password_form or ChangePasswordForm(formdata=None, prefix="pw"),
        delete_form=delete_form or DeleteAccountForm(formdata=None, prefix="del"),
        logout_form=LogoutForm(formdata=None, prefix="out"),
    )


@bp.post("/account/password")
def account_password():
    """Change-password form handler."""
    user = current_page_user()
    if user is None:
        flash("Your session has ended. Log in again.", "error")
        return redirect(url_for("pages.login"), 303)
    form = ChangePasswordForm(prefix="pw")
    if not form.validate_on_submit():
        return _account_page(user, 400, password_form=form)
    try:
        user = accounts.change_password(
            user, form.current_password.data or "", form.new_password.data or ""
        )
    except AccountError as exc:
        _show_error(form, exc, {"password_too_short": "new_password",  # nosec B105 - form field names
                                "password_too_long": "new_password",  # nosec B105
                                "password_too_common": "new_password"})  # nosec B105  # fmt: skip
        return _account_page(user, exc.status, password_form=form)
    token, ttl = issue_token(user)
    flash("Your password has been changed. Other sessions have been logged out.", "success")
    resp = redirect(url_for("pages.account"), 303)
    set_token_cookie(resp, token, ttl)
    return resp


@bp.post("/account/delete")
def account_delete():
    """Delete-account form handler (asks the inference service to delete history)."""
    user = current_page_user()
    if user is None:
        flash("Your session has ended. Log in again.", "error")
        return redirect(url_for("pages.login"), 303)
    form = DeleteAccountForm(prefix="del")
    if not form.validate_on_submit():
        return _account_page(user, 400, delete_form=form)
    if not accounts.verify_password(user.password_hash, form.password.data or ""):
        form.password.errors = [*form.password.errors, "The password is incorrect."]
        return _account_page(user, 400, delete_form=form)
    accounts.delete_account(user, cookie_token() or "")
    flash("Your account and your question history have been deleted.", "success")
    resp = redirect(url_for("pages.register"), 303)
    clear_token_cookie(resp)
    return resp
