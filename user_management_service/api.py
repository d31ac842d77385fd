"""JSON API: accounts, tokens, admin, and the public keys (JWKS)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify
from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import func, select

from common.errors import APIError
from common.web import int_arg, json_body
from user_management_service import accounts
from user_management_service.auth import require_admin, require_user
from user_management_service.db import session
from user_management_service.models import User
from user_management_service.tokens import issue_token, keystore

bp = Blueprint("users_api", __name__, url_prefix="/api/v1")
wellknown = Blueprint("wellknown", __name__, url_prefix="/.well-known")


class _Lenient(Schema):
    class Meta:
        unknown = EXCLUDE  # clients may send more fields than we read


class AccountCredentials(_Lenient):
    email = fields.String(required=True, metadata={"example": "ada@example.org"})
    password = fields.String(required=True, metadata={"example": "correct horse battery"})


class PasswordChange(_Lenient):
    current_password = fields.String(required=True)
    new_password = fields.String(required=True)


class UserPatch(_Lenient):
    disabled = fields.Boolean()
    role = fields.String(validate=validate.OneOf(["user", "admin"]))


class UserOut(Schema):
    id = fields.String()
    email = fields.String()
    role = fields.String()
    disabled = fields.Boolean()
    created_at = fields.DateTime()


class UserList(Schema):
    users = fields.List(fields.Nested(UserOut))
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()


class AccessToken(Schema):
    access_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"example": 1800})


class Jwk(Schema):
    kty = fields.String(metadata={"example": "OKP"})
    crv = fields.String(metadata={"example": "Ed25519"})
    x = fields.String()
    kid = fields.String()
    alg = fields.String(metadata={"example": "EdDSA"})
    use = fields.String(metadata={"example": "sig"})


class JwkSet(Schema):
    keys = fields.List(fields.Nested(Jwk))


def token_body(user: User) -> dict:
    token, ttl = issue_token(user)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}  # nosec B105 - a token type name


@bp.post("/users")
def create_user():
    """Register an account.
    ---
    post:
      summary: Register an account
      requestBody:
        required: true
        content:
          application/json:
            schema: AccountCredentials
      responses:
        201:
          description: Created
          content:
            application/json:
              schema: UserOut
        400:
          description: Invalid email or password (codes invalid_email, password_too_short,
            password_too_common, invalid_field, invalid_json)
          content:
            application/json:
              schema: Error
        409:
          description: Email already registered (code email_taken)
          content:
            application/json:
              schema: Error
        413: {description: Body over 16 KiB}
        415: {description: Not JSON}
        429:
          description: Too many registrations from this address, or in total (Retry-After)
          content:
            application/json:
              schema: Error
    """
    data = json_body(AccountCredentials())
    accounts.limit_requests("register")
    user = accounts.register(data["email"], data["password"])
    body = {"id": user.id, "email": user.email, "created_at": user.created_at.isoformat()}
    return jsonify(body), 201, {"Location": "/api/v1/users/me"}


@bp.post("/tokens")
def create_token():
    """Log in: exchange email and password for an access token.
    ---
    post:
      summary: Log in and get an access token (EdDSA JWT)
      requestBody:
        required: true
        content:
          application/json:
            schema: AccountCredentials
      responses:
        200:
          description: Token
          content:
            application/json:
              schema: AccessToken
        401:
          description: Unknown email or wrong password (same body for both)
          content:
            application/json:
              schema: Error
        403:
          description: Account disabled
        429:
          description: Too many token requests from this address or in total, or too many
            failed logins for this account or address (Retry-After)
          content:
            application/json:
              schema: Error
    """
    data = json_body(AccountCredentials())
    accounts.limit_requests("token")
    user = accounts.authenticate(data["email"], data["password"])
    return jsonify(token_body(user))


@bp.get("/users/me")
def get_me():
    """The caller's account.
    ---
    get:
      summary: The caller's account
      security: [{bearer: []}]
      responses:
        200:
          description: Account
          content:
            application/json:
              schema: UserOut
        401:
          description: Missing, invalid, expired or revoked token
          content:
            application/json:
              schema: Error
    """
    return jsonify(require_user().public())


@bp.delete("/users/me")
def delete_me():
    """Delete the caller's account and ask the inference service to delete their history.
    ---
    delete:
      summary: Delete the caller's account (and, best effort, their query history)
      security: [{bearer: []}]
      responses:
        204: {description: Deleted}
        401:
          description: Missing or invalid token
          content:
            application/json:
              schema: Error
    """
    user = require_user()
    accounts.delete_account(user, g.token)
    return "", 204


@bp.post("/users/me/password")
def change_password():
    """Change the caller's password; every earlier token stops working here.
    ---
    post:
      summary: Change password (returns a fresh token)
      security: [{bearer: []}]
      requestBody:
        required: true
        content:
          application/json:
            schema: PasswordChange
      responses:
        200:
          description: A new token; older tokens are revoked
          content:
            application/json:
              schema: AccessToken
        400:
          description: Wrong current password (wrong_password) or weak new password
          content:
            application/json:
              schema: Error
        401:
          description: Missing or invalid token
    """
    user = require_user()
    data = json_body(PasswordChange())
    user = accounts.change_password(user, data["current_password"], data["new_password"])
    return jsonify(token_body(user))


@bp.get("/users")
def list_users():
    """List accounts (administrators only).
    ---
    get:
      summary: List accounts (admin)
      security: [{bearer: []}]
      parameters:
        - {in: query, name: limit, schema: {type: integer, minimum: 1, maximum: 200}}
        - {in: query, name: offset, schema: {type: integer, minimum: 0}}
      responses:
        200:
          description: Accounts, oldest first
          content:
            application/json:
              schema: UserList
        401: {description: Missing or invalid token}
        403: {description: Not an administrator}
    """
    require_admin()
    limit = int_arg("limit", 50, 1, 200)
    offset = int_arg("offset", 0, 0, 10**9)
    sess = session()
    total = sess.scalar(select(func.count(User.id)))
    users = sess.scalars(
        select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
    ).all()
    return jsonify(
        {"users": [u.public() for u in users], "total": total, "limit": limit, "offset": offset}
    )


@bp.patch("/users/<user_id>")
def patch_user(user_id: str):
    """Disable or enable an account, or change its role (administrators only).
    ---
    patch:
      summary: Disable/enable an account or set its role (admin)
      security: [{bearer: []}]
      parameters:
        - {in: path, name: user_id, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema: UserPatch
      responses:
        200:
          description: The updated account
          content:
            application/json:
              schema: UserOut
        400: {description: Nothing to change, or an admin disabling themself}
        403: {description: Not an administrator}
        404: {description: No such account}
    """
    admin = require_admin()
    data = json_body(UserPatch())
    if not data:
        raise APIError(400, "Send at least one of: disabled, role.", "invalid_field")
    user = accounts.get_user(user_id)
    if user is None:
        raise APIError(404, "No account with this id.", "not_found")
    if user.id == admin.id:
        raise APIError(400, "Administrators cannot disable or demote themselves.", "invalid_field")
    if "role" in data and data["role"] != user.role:
        user.role = data["role"]
        user.token_version += 1  # tokens carry the role: make the old ones stop working
        session().commit()
    if "disabled" in data:
        accounts.set_disabled(user, data["disabled"])
    return jsonify(user.public())


@wellknown.get("/jwks.json")
def jwks():
    """Public keys that verify access tokens.
    ---
    get:
      summary: JSON Web Key Set (Ed25519 public keys, current first)
      responses:
        200:
          description: JWKS
          content:
            application/json:
              schema: JwkSet
    """
    resp = jsonify(keystore().jwks())
    # Short cache: verifiers refetch on an unknown kid anyway, and rotations show up quickly.
    resp.headers["Cache-Control"] = (
        f"public, max-age={min(300, current_app.config['TOKEN_TTL_SECONDS'])}"
    )
    return resp
