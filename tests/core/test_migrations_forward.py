"""A database migrated before the base layer moved to `core` migrates forward with its audit
trail and outbox intact: the models changed app, their tables and rows did not."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from core.models import AuditEvent, Notification

BEFORE_MOVE = [("consult", "0009_notification_idempotency_key")]


def _migrate(targets: list[tuple[str, str]] | None = None) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@pytest.mark.django_db(transaction=True)
def test_audit_rows_and_outbox_rows_written_before_the_move_are_read_through_core(
    county_doctor, child
):
    try:
        old = _migrate(BEFORE_MOVE).loader.project_state(BEFORE_MOVE).apps
        event = old.get_model("consult", "AuditEvent").objects.create(
            user_id=county_doctor.pk,
            username=county_doctor.username,
            hospital_id=county_doctor.hospital_id,
            patient_id=child.pk,
            action="view",
            object_type="patient",
            object_id=str(child.pk),
            reason="before the move",
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO consult_notification (recipient_id, channel, address, kind, subject,"
                " body, url, object_type, object_id, state, attempts, last_error, created_at,"
                " idempotency_key) VALUES (%s, 'email', 'doc@example.org', 'consult_submitted',"
                " 'New request', 'A request waits', '', '', '', 'pending', 0, '', %s, %s)",
                [
                    county_doctor.pk,
                    "2026-01-02T03:04:05+00:00",
                    "5d3c1c2e-4c1f-4c4e-9d8e-1b2a3c4d5e6f",
                ],
            )
    finally:
        _migrate()  # the latest state again, for the tests that follow

    moved = AuditEvent.objects.get(pk=event.pk)
    assert (moved.user, moved.patient, moved.hospital_id) == (
        county_doctor,
        child,
        county_doctor.hospital_id,
    )
    assert (moved.action, moved.reason) == (AuditEvent.Action.VIEW, "before the move")
    notice = Notification.objects.get(recipient=county_doctor)
    assert (notice.channel, notice.state, notice.subject) == ("email", "pending", "New request")
    assert str(notice.idempotency_key) == "5d3c1c2e-4c1f-4c4e-9d8e-1b2a3c4d5e6f"
    assert list(county_doctor.notifications.all()) == [notice]
