from django.core.management.base import BaseCommand, CommandError, CommandParser

from consult.demo import DEMO_PASSWORD, demo_totp_uri, seed_demo_alliance, seed_demo_totp
from consult.demo_consultations import seed_consultations


class Command(BaseCommand):
    help = (
        "Load the demo alliance (idempotent): accounts whose password is published in the "
        "README. Refused unless --demo confirms that this install is a demo."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo",
            action="store_true",
            help="confirm that this install may hold the demo accounts (`make run` passes it)",
        )

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        # An explicit switch, not DEBUG: `make run` serves with DEBUG off and still loads the
        # demo, and a real trial (`make run DEMO=0`) must not get published passwords.
        if not options["demo"]:
            raise CommandError(
                "seed_demo creates accounts whose password is published: pass --demo to "
                "confirm this install is a demo (`make run DEMO=0` skips it)."
            )
        users = seed_demo_alliance()
        seed_consultations(stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo alliance ready. Demo logins (password for all: {DEMO_PASSWORD}):"
            )
        )
        for user in users:
            hospital = user.hospital.name_zh if user.hospital else "-"
            self.stdout.write(f"  {user.username:<12} {user.get_role_display():<10} {hospital}")
        secret = seed_demo_totp(users)
        self.stdout.write(
            "Two-factor login (specialists, coordinators, admins): add this key to an "
            "authenticator app; one entry serves every demo account:\n"
            f"  key: {secret}\n  {demo_totp_uri(secret)}\n"
            "  or print the current code: python manage.py demo_totp <username>"
        )
