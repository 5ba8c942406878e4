"""Demo people for the green channel: the expert center's pediatric surgery gets a head and a
surgeon, so the receiving department's worklist can be tried. Idempotent; demo installs only
(`seed_referral_demo --demo`, after `seed_demo --demo`)."""

from __future__ import annotations

from django.db import transaction

from consult.demo import DEMO_PASSWORD, EXPERT
from consult.models import Department, Role, User

SURGERY = "小儿外科"
DEMO_SURGEONS = [("surg_zheng", "郑国强", True), ("surg_he", "何静", False)]


@transaction.atomic
def seed_referral_demo() -> list[User]:
    surgery = Department.objects.get(hospital__code=EXPERT[0], name_zh=SURGERY)
    people = []
    for username, full_name, is_head in DEMO_SURGEONS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "full_name": full_name,
                "role": Role.SPECIALIST,
                "hospital": surgery.hospital,
                "department": surgery,
                "email": f"{username}@demo.pedslink.invalid",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if is_head and surgery.head_id is None:
            surgery.head = user
            surgery.save(update_fields=["head"])
        people.append(user)
    return people
