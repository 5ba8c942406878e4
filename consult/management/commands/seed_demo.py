from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consult.demo import DEMO_PASSWORD, demo_totp_uri, seed_demo_alliance, seed_demo_totp
from consult.demo_consultations import seed_consultations


class Command(BaseCommand):
    help = "Load the demo alliance (idempotent). Refused when DEBUG=0."

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo refuses to run with DEBUG=0: demo accounts are not for production."
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
