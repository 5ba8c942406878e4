from django.core.management.base import BaseCommand, CommandError

from consult.demo import demo_totp_code


class Command(BaseCommand):
    help = "Print the current two-factor code of a demo account (after seed_demo)."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:  # noqa: ANN002, ANN003
        try:
            self.stdout.write(demo_totp_code(username))
        except ValueError:
            raise CommandError(f"{username} is not a demo account.") from None
        except LookupError:
            raise CommandError(f"{username} has no authenticator yet: run seed_demo.") from None
