"""Every outbox row gets its own idempotency key; rows already there get a fresh one each."""

import uuid

from django.db import migrations, models


def give_each_row_a_key(apps, schema_editor) -> None:  # noqa: ANN001
    Notification = apps.get_model("consult", "Notification")
    if schema_editor.connection.vendor == "postgresql":
        # Check the (deferred) foreign keys of the updated rows now: PostgreSQL refuses the
        # ALTER TABLE below while trigger events are pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(
            "UPDATE consult_notification SET idempotency_key = gen_random_uuid() "
            "WHERE idempotency_key IS NULL"
        )
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")
        return
    for pk in Notification.objects.filter(idempotency_key=None).values_list("pk", flat=True):
        Notification.objects.filter(pk=pk).update(idempotency_key=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("consult", "0008_patient_allergy_status"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="idempotency_key",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(give_each_row_a_key, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="notification",
            name="idempotency_key",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
