"""Admin commands: `python -m user_management_service <command>` or `flask --app ... users`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from user_management_service import accounts, db
from user_management_service.accounts import AccountError
from user_management_service.tokens import keystore

users_cli = AppGroup("users", help="User service administration.")


@users_cli.command("create-admin")
@click.argument("email")
@click.option(
    "--password",
    envvar="USERS_ADMIN_PASSWORD",
    default=None,
    help="Password for a new account (else prompted; env USERS_ADMIN_PASSWORD).",
)
def create_admin(email: str, password: str | None) -> None:
    """Create an admin account, or make an existing account an admin."""
    if accounts.find_by_email(email) is None and password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user, created = accounts.create_or_promote_admin(email, password)
    except AccountError as exc:
        raise click.ClickException(exc.message) from None
    verb = "created" if created else "promoted"
    click.echo(f"admin {verb}: {user.email} (id {user.id})")


@users_cli.command("rotate-key")
def rotate_key() -> None:
    """Start signing with a new key; the old one stays in the JWKS until its tokens expire."""
    try:
        key = keystore().rotate()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    published = ", ".join(k.kid for k in keystore().published())
    click.echo(f"new signing key {key.kid}; published: {published}")


@users_cli.command("migrate")
def migrate() -> None:
    """Upgrade the database schema (also done at start)."""
    db.migrate(current_app._get_current_object())
    click.echo("database schema is up to date")
