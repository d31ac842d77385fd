"""`python -m user_management_service create-admin EMAIL | rotate-key | migrate`."""

from user_management_service import create_app
from user_management_service.cli import users_cli


def main() -> None:
    app = create_app()
    with app.app_context():
        users_cli.main(prog_name="python -m user_management_service")


if __name__ == "__main__":
    main()
