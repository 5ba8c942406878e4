"""The demo alliance gets a receiving department people can log in to."""

import io

import pytest
from django.core.management import call_command

from consult.demo import seed_demo_alliance
from referrals.demo import seed_referral_demo
from referrals.selectors import acts_for_any_department

pytestmark = pytest.mark.django_db


def test_demo_surgery_has_a_head_and_a_surgeon_and_seeding_twice_changes_nothing(settings):
    seed_demo_alliance()
    settings.DEBUG = False  # as `make run` serves: the switch is --demo, not DEBUG
    call_command("seed_referral_demo", "--demo", stdout=io.StringIO())
    head, surgeon = seed_referral_demo()
    assert seed_referral_demo() == [head, surgeon]
    assert head.department.head == head and surgeon.department == head.department
    assert head.department.accepts_referrals
    assert acts_for_any_department(surgeon)
