import pytest
from django.core.management import CommandError, call_command

from consult.demo import DEMO_PASSWORD
from consult.models import (
    Guardian,
    Hospital,
    OnCallShift,
    Patient,
    Role,
    SpecialistSubspecialty,
    Subspecialty,
    Tier,
    User,
)


def counts():
    return [m.objects.count() for m in (Hospital, User, Patient, Guardian, OnCallShift)]


def test_seed_demo_twice_gives_the_same_alliance(db, settings, capsys):
    settings.DEBUG = False  # as `make run` serves: the switch is --demo, not DEBUG
    call_command("seed_demo", "--demo")
    first = counts()
    call_command("seed_demo", "--demo")
    assert counts() == first
    out = capsys.readouterr().out
    assert DEMO_PASSWORD in out and "town_doc" in out


def test_demo_alliance_has_what_the_readme_promises(db):
    call_command("seed_demo", "--demo")
    assert Hospital.objects.filter(tier=Tier.EXPERT_CENTER).count() == 1
    members = Hospital.objects.exclude(tier=Tier.EXPERT_CENTER)
    assert members.count() >= 12
    assert {Tier.TOWNSHIP, Tier.COUNTY, Tier.MUNICIPAL} <= set(
        members.values_list("tier", flat=True)
    )
    assert members.values("city").distinct().count() >= 4
    for role in Role.values:
        assert 2 <= User.objects.filter(role=role).count() <= 3
    covered = set(SpecialistSubspecialty.objects.values_list("subspecialty", flat=True))
    assert covered == set(Subspecialty.values)
    assert set(OnCallShift.objects.values_list("subspecialty", flat=True)) == set(
        Subspecialty.values
    )
    assert Patient.objects.count() == 20
    assert not Patient.objects.filter(guardians=None).exists()
    assert User.objects.get(username="town_doc").check_password(DEMO_PASSWORD)


@pytest.mark.parametrize("debug", [True, False])
def test_seed_demo_refuses_without_the_demo_switch_whatever_debug_is(db, settings, debug):
    settings.DEBUG = debug
    with pytest.raises(CommandError, match="--demo"):
        call_command("seed_demo")
    assert Hospital.objects.count() == 0 and User.objects.count() == 0


def test_seed_referral_demo_refuses_without_the_demo_switch(db, settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="--demo"):
        call_command("seed_referral_demo")
    assert User.objects.count() == 0
