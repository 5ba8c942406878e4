"""A change of a user's hospital or role ends their remembered "may see this study" answers at
once (core.revocation), in Django and for the signed frame links answered in front of it:
no waiting out VIEWER_ACCESS_CACHE_SECONDS or VIEWER_GRANT_SECONDS, so no time travel in
these tests either."""

from __future__ import annotations

import pytest

from consult.models import Role
from consult.services import user_save
from core.audit import SYSTEM
from tests.viewer.rendering.test_frame_links import cached, frame_url, get, links, session_cookie


def move_to(user, *, admin, hospital=None, role=None) -> None:
    """What the directory page and the API do for an alliance admin."""
    if hospital is not None:
        user.hospital = hospital
    if role is not None:
        user.role = role
    user_save(actor=admin, user=user, context=SYSTEM)


CHANGES = {
    "moved to another hospital": lambda user, admin, other: move_to(
        user, admin=admin, hospital=other
    ),
    "made a specialist": lambda user, admin, other: move_to(
        user, admin=admin, role=Role.SPECIALIST
    ),
}


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("kind", ["rendered", "png"])  # DICOMweb rendered, viewer 16-bit
def test_a_doctor_whose_access_changed_gets_404_at_once_from_django(
    client, county_doctor, alliance_admin, other_hospital, ct_study, change, kind
):
    url = frame_url(ct_study, kind=kind)
    client.force_login(county_doctor)
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # the "yes" is remembered now
    CHANGES[change](county_doctor, alliance_admin, other_hospital)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("change", CHANGES)
def test_a_doctor_whose_access_changed_gets_404_at_once_for_a_frame_link(
    server, county_doctor, alliance_admin, other_hospital, ct_study, change
):
    cached(ct_study)
    cookie = session_cookie(county_doctor)
    url = links(server, ct_study, cookie)[0]
    assert get(server, url, Cookie=cookie).fast  # granted and cached: answered by the link
    CHANGES[change](county_doctor, alliance_admin, other_hospital)
    refused = get(server, url, Cookie=cookie)
    assert refused.status == 404 and not refused.fast


def test_a_colleague_keeps_the_frame_links_when_another_user_is_moved(
    server,
    county_doctor,
    township_doctor,
    county_hospital,
    alliance_admin,
    other_hospital,
    ct_study,
):
    """The change ends the moved user's answers only."""
    colleague = township_doctor
    move_to(colleague, admin=alliance_admin, hospital=county_hospital)
    cached(ct_study)
    cookie = session_cookie(colleague)
    url = links(server, ct_study, cookie)[0]
    assert get(server, url, Cookie=cookie).fast
    move_to(county_doctor, admin=alliance_admin, hospital=other_hospital)
    assert get(server, url, Cookie=cookie).fast


def test_a_hospital_changed_in_the_django_admin_takes_effect_at_once(
    client, client_factory, county_doctor, other_hospital, ct_study
):
    from django.urls import reverse

    from tests.factories import UserFactory

    superuser = UserFactory(
        username="root", role=Role.ADMIN, hospital=None, is_staff=True, is_superuser=True
    )
    url = frame_url(ct_study)
    client.force_login(county_doctor)
    assert client.get(url).status_code == 200
    admin = client_factory()
    admin.force_login(superuser)
    joined = county_doctor.date_joined
    response = admin.post(
        reverse("admin:consult_user_change", args=[county_doctor.pk]),
        {
            "username": county_doctor.username,
            "full_name": county_doctor.full_name,
            "email": county_doctor.email,
            "role": county_doctor.role,
            "hospital": other_hospital.pk,
            "is_active": "on",
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    county_doctor.refresh_from_db()
    assert county_doctor.hospital == other_hospital
    assert client.get(url).status_code == 404
