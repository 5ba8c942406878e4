import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from consult.models import Department, Hospital, OnCallShift, Role, User
from core.models import AuditEvent
from tests.factories import HospitalFactory, OnCallShiftFactory, UserFactory


@pytest.fixture
def admin_client(client, alliance_admin):
    client.force_login(alliance_admin)
    client.cookies["django_language"] = "en"
    return client


def hospital_form(**overrides):
    data = {
        "code": "LS-QY",
        "name_zh": "庆元县人民医院",
        "name_en": "Qingyuan County People's Hospital",
        "tier": "county",
        "province": "浙江省",
        "city": "丽水市",
        "county": "庆元县",
        "phone": "0578-6120000",
        "is_active": "on",
    }
    return data | overrides


def test_admin_creates_a_hospital_through_the_page(admin_client):
    response = admin_client.post(reverse("hospital-create"), hospital_form(), follow=True)
    hospital = Hospital.objects.get(code="LS-QY")
    assert hospital.name_en == "Qingyuan County People's Hospital"
    assert hospital.tier == "county"
    assert "庆元县人民医院" in response.content.decode()
    assert AuditEvent.objects.filter(action="create", object_type="hospital").exists()


def test_hospital_form_error_keeps_what_was_typed(admin_client):
    response = admin_client.post(reverse("hospital-create"), hospital_form(tier="galactic"))
    body = response.content.decode()
    assert response.status_code == 400
    assert "Select a valid choice" in body
    assert "庆元县人民医院" in body
    assert not Hospital.objects.filter(code="LS-QY").exists()


def test_admin_adds_a_department_that_accepts_referrals(admin_client, expert_center):
    admin_client.post(
        reverse("department-create"),
        {
            "hospital": expert_center.pk,
            "name_zh": "小儿外科",
            "name_en": "Pediatric Surgery",
            "accepts_referrals": "on",
            "is_active": "on",
        },
    )
    department = Department.objects.get(hospital=expert_center)
    assert department.accepts_referrals
    page = admin_client.get(reverse("hospital-detail", args=[expert_center.pk]))
    assert "Pediatric Surgery" in page.content.decode()


def test_admin_creates_a_specialist_with_subspecialties(admin_client, expert_center, password):
    admin_client.post(
        reverse("user-create"),
        {
            "username": "spec_new",
            "full_name": "钱专家",
            "email": "s@example.org",
            "role": "specialist",
            "hospital": expert_center.pk,
            "is_active": "on",
            "password": password,
            "subspecialties": ["cardiac", "neuro"],
        },
    )
    user = User.objects.get(username="spec_new")
    assert user.check_password(password)
    assert set(user.subspecialties.values_list("subspecialty", flat=True)) == {"cardiac", "neuro"}


def test_a_hospital_role_without_a_hospital_is_refused(admin_client, password):
    response = admin_client.post(
        reverse("user-create"),
        {
            "username": "nohosp",
            "full_name": "无医院",
            "role": "referring_doctor",
            "is_active": "on",
            "password": password,
        },
    )
    assert response.status_code == 400
    assert "must belong to a hospital" in response.content.decode()
    assert 'value="nohosp"' in response.content.decode()
    assert not User.objects.filter(username="nohosp").exists()


def test_deactivating_a_user_ends_their_sessions(admin_client, client_factory, county_doctor):
    doctor_client = client_factory()
    doctor_client.force_login(county_doctor)
    assert doctor_client.get(reverse("home")).status_code == 200
    admin_client.post(
        reverse("user-edit", args=[county_doctor.pk]),
        {
            "username": county_doctor.username,
            "full_name": county_doctor.full_name,
            "email": county_doctor.email,
            "role": "referring_doctor",
            "hospital": county_doctor.hospital_id,
        },  # is_active unchecked
    )
    county_doctor.refresh_from_db()
    assert not county_doctor.is_active
    response = doctor_client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_non_admin_is_refused_the_directory_pages_with_a_denied_row(client, county_doctor):
    client.force_login(county_doctor)
    for name in ("hospital-list", "hospital-create", "user-list", "audit-list"):
        assert client.get(reverse(name)).status_code == 403
    assert AuditEvent.objects.filter(user=county_doctor, action="denied").count() == 4


def test_coordinator_adds_an_on_call_shift(client, coordinator, specialist):
    client.force_login(coordinator)
    start = timezone.localtime() + dt.timedelta(hours=1)
    client.post(
        reverse("roster-list"),
        {
            "specialist": specialist.pk,
            "subspecialty": "abdominal",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + dt.timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    shift = OnCallShift.objects.get()
    assert shift.specialist == specialist
    page = client.get(reverse("roster-list")).content.decode()
    assert specialist.full_name in page


def test_a_shift_ending_before_it_starts_is_refused(client, coordinator, specialist):
    client.force_login(coordinator)
    client.cookies["django_language"] = "en"
    start = timezone.localtime() + dt.timedelta(hours=5)
    response = client.post(
        reverse("roster-list"),
        {
            "specialist": specialist.pk,
            "subspecialty": "abdominal",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 400
    assert "must end after it starts" in response.content.decode()
    assert not OnCallShift.objects.exists()


def test_a_shift_outside_the_specialists_subspecialties_is_refused(client, coordinator, specialist):
    client.force_login(coordinator)
    client.cookies["django_language"] = "en"
    start = timezone.localtime() + dt.timedelta(hours=1)
    response = client.post(
        reverse("roster-list"),
        {
            "specialist": specialist.pk,
            "subspecialty": "cardiac",
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert "does not practise this subspecialty" in response.content.decode()


def test_hospital_list_queries_do_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    HospitalFactory.create_batch(3)
    with django_assert_max_num_queries(8) as few:
        admin_client.get(reverse("hospital-list"))
    HospitalFactory.create_batch(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(reverse("hospital-list"))


def test_user_list_queries_do_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    UserFactory.create_batch(2, role=Role.SPECIALIST, subspecialties=["cardiac"])
    with django_assert_max_num_queries(10) as few:
        admin_client.get(reverse("user-list"))
    UserFactory.create_batch(15, role=Role.SPECIALIST, subspecialties=["cardiac", "neuro"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(reverse("user-list"))


def test_roster_list_queries_do_not_grow_with_rows(
    client, coordinator, django_assert_max_num_queries
):
    client.force_login(coordinator)
    OnCallShiftFactory.create_batch(2)
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("roster-list"))
    OnCallShiftFactory.create_batch(15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("roster-list"))
