from django.core.management.base import BaseCommand, CommandError, CommandParser

from consult.demo import DEMO_PASSWORD
from referrals.demo import seed_referral_demo


class Command(BaseCommand):
    help = "Add the demo receiving department's people (after seed_demo). Refused without --demo."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo", action="store_true", help="confirm that this install is a demo"
        )

    def handle(self, *args, **options) -> None:  # noqa: ANN002, ANN003
        if not options["demo"]:
            raise CommandError(
                "seed_referral_demo creates accounts whose password is published: pass --demo."
            )
        people = seed_referral_demo()
        self.stdout.write(self.style.SUCCESS(f"Receiving department (password {DEMO_PASSWORD}):"))
        for user in people:
            self.stdout.write(f"  {user.username:<12} {user.department}")
