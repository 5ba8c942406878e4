from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consult.demo import DEMO_PASSWORD
from referrals.demo import seed_referral_demo


class Command(BaseCommand):
    help = "Add the demo receiving department's people (after seed_demo). Refused when DEBUG=0."

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        if not settings.DEBUG:
            raise CommandError("seed_referral_demo refuses to run with DEBUG=0.")
        people = seed_referral_demo()
        self.stdout.write(self.style.SUCCESS(f"Receiving department (password {DEMO_PASSWORD}):"))
        for user in people:
            self.stdout.write(f"  {user.username:<12} {user.department}")
