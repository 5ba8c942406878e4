"""AuditEvent and Notification move to the `core` app and keep their tables
(`consult_auditevent`, `consult_notification`): here they leave this app's state only;
core/migrations/0001_initial.py takes them over. The database is not touched."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("consult", "0009_notification_idempotency_key"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="notification", name="recipient"),
                migrations.DeleteModel(name="AuditEvent"),
                migrations.DeleteModel(name="Notification"),
            ],
            database_operations=[],
        ),
    ]
