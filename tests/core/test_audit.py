import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from core.audit import audit_record
from core.models import AppendOnlyError, AuditEvent
from tests.factories import PatientFactory


def test_audit_rows_cannot_be_changed_or_deleted_through_the_app(county_doctor, child):
    row = audit_record(user=county_doctor, action="view", obj=child)
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=row.pk).update(reason="edited")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        row.delete()


def test_the_database_itself_refuses_to_change_audit_rows(county_doctor, child):
    row = audit_record(user=county_doctor, action="view", obj=child)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE consult_auditevent SET reason = 'x' WHERE id = %s", [row.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM consult_auditevent WHERE id = %s", [row.pk])
    assert AuditEvent.objects.filter(pk=row.pk, reason="").exists()


def test_the_django_admin_shows_the_trail_read_only(client, alliance_admin, county_doctor, child):
    alliance_admin.is_staff = alliance_admin.is_superuser = True
    alliance_admin.save()
    row = audit_record(user=county_doctor, action="view", obj=child)
    client.force_login(alliance_admin)
    assert client.get(reverse("admin:core_auditevent_changelist")).status_code == 200
    assert client.post(reverse("admin:core_auditevent_delete", args=[row.pk])).status_code == 403


@pytest.fixture
def trail(county_doctor, outsider, child, other_hospital):
    other_child = PatientFactory(name="赵小宝", home_hospital=other_hospital)
    audit_record(user=county_doctor, action="view", obj=child)
    audit_record(user=outsider, action="view", obj=other_child)
    audit_record(user=outsider, action="denied", object_type="patient", object_id=str(child.pk))
    return other_child


def test_admin_searches_the_trail_by_child_user_hospital_and_date(
    client, alliance_admin, trail, child, outsider, county_hospital
):
    client.force_login(alliance_admin)
    url = reverse("audit-list")
    by_child = client.get(url, {"child_name": "李小明"}).content.decode()
    assert "county_doc" in by_child and "赵小宝" not in by_child
    by_user = client.get(url, {"user": "outsider"}).content.decode()
    assert "赵小宝" in by_user and "county_doc" not in by_user
    by_hospital = client.get(url, {"hospital": county_hospital.pk}).content.decode()
    assert "county_doc" in by_hospital and "outsider" not in by_hospital
    tomorrow = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    client.cookies["django_language"] = "en"
    assert "No audit event matches" in client.get(url, {"date_from": tomorrow}).content.decode()


def test_audit_search_rejects_an_inverted_date_range(client, alliance_admin):
    client.force_login(alliance_admin)
    client.cookies["django_language"] = "en"
    body = client.get(
        reverse("audit-list"), {"date_from": "2026-11-20", "date_to": "2026-11-01"}
    ).content.decode()
    assert "end date is before the start date" in body


def test_audit_list_queries_do_not_grow_with_rows(
    client, alliance_admin, county_doctor, child, django_assert_max_num_queries
):
    client.force_login(alliance_admin)
    for _ in range(3):
        audit_record(user=county_doctor, action="view", obj=child)
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("audit-list"))
    for _ in range(30):
        audit_record(user=county_doctor, action="view", obj=child)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("audit-list"))
