"""The base layer takes over AuditEvent and Notification from `consult` with their tables
(state only: consult/migrations/0010 drops them from consult's state; the tables, their rows,
indexes and the audit table's append-only trigger stay as they are).

The two models' content types are renamed too, so that permissions granted on them and admin
history follow the models instead of being left behind as stale rows."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

MODELS = ("auditevent", "notification")


def _relabel(apps, old: str, new: str) -> None:  # noqa: ANN001
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        # A database migrated before the move has the old row only; a fresh one has neither
        # yet (they are made after migrating). If both exist, leave them: nothing to carry.
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def content_types_to_core(apps, schema_editor) -> None:  # noqa: ANN001
    _relabel(apps, "consult", "core")


def content_types_to_consult(apps, schema_editor) -> None:  # noqa: ANN001
    _relabel(apps, "core", "consult")


STATE = [
    migrations.CreateModel(
        name="AuditEvent",
        fields=[
            (
                "id",
                models.BigAutoField(
                    auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                ),
            ),
            ("at", models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="time")),
            (
                "portal_token_id",
                models.CharField(blank=True, max_length=64, verbose_name="portal token"),
            ),
            ("username", models.CharField(blank=True, max_length=150, verbose_name="username")),
            ("role", models.CharField(blank=True, max_length=20, verbose_name="role")),
            (
                "action",
                models.CharField(
                    choices=[
                        ("view", "View"),
                        ("create", "Create"),
                        ("update", "Update"),
                        ("export", "Export"),
                        ("login", "Login"),
                        ("login_failed", "Failed login"),
                        ("logout", "Logout"),
                        ("denied", "Denied"),
                    ],
                    max_length=20,
                    verbose_name="action",
                ),
            ),
            (
                "object_type",
                models.CharField(blank=True, max_length=50, verbose_name="object type"),
            ),
            ("object_id", models.CharField(blank=True, max_length=128, verbose_name="object id")),
            (
                "outcome",
                models.CharField(
                    choices=[("success", "Success"), ("failure", "Failure")],
                    default="success",
                    max_length=10,
                    verbose_name="outcome",
                ),
            ),
            ("reason", models.CharField(blank=True, max_length=300, verbose_name="reason")),
            ("ip", models.GenericIPAddressField(blank=True, null=True, verbose_name="IP address")),
            ("user_agent", models.CharField(blank=True, max_length=300, verbose_name="user agent")),
            ("request_id", models.CharField(blank=True, max_length=64, verbose_name="request id")),
            (
                "hospital",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to="consult.hospital",
                    verbose_name="hospital",
                ),
            ),
            (
                "patient",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to="consult.patient",
                    verbose_name="child",
                ),
            ),
            (
                "user",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                    verbose_name="user",
                ),
            ),
        ],
        options={
            "verbose_name": "audit event",
            "verbose_name_plural": "audit trail",
            "db_table": "consult_auditevent",
            "ordering": ["-at", "-id"],
            "indexes": [
                models.Index(fields=["patient", "at"], name="consult_aud_patient_36eb2f_idx"),
                models.Index(fields=["user", "at"], name="consult_aud_user_id_a901cc_idx"),
                models.Index(fields=["hospital", "at"], name="consult_aud_hospita_8f18d4_idx"),
            ],
        },
    ),
    migrations.CreateModel(
        name="Notification",
        fields=[
            (
                "id",
                models.BigAutoField(
                    auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                ),
            ),
            (
                "channel",
                models.CharField(
                    choices=[
                        ("in_app", "In the application"),
                        ("email", "Email"),
                        ("sms", "Text message"),
                    ],
                    max_length=10,
                ),
            ),
            ("address", models.CharField(blank=True, max_length=254, verbose_name="address")),
            ("kind", models.CharField(max_length=40)),
            ("subject", models.CharField(max_length=200, verbose_name="subject")),
            ("body", models.TextField(verbose_name="text")),
            ("url", models.CharField(blank=True, max_length=300)),
            ("object_type", models.CharField(blank=True, max_length=50)),
            ("object_id", models.CharField(blank=True, max_length=64)),
            (
                "state",
                models.CharField(
                    choices=[
                        ("pending", "Waiting to be sent"),
                        ("sending", "Being sent"),
                        ("sent", "Sent"),
                        ("failed", "Failed"),
                    ],
                    default="pending",
                    max_length=10,
                ),
            ),
            ("attempts", models.PositiveSmallIntegerField(default=0)),
            ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
            ("claimed_at", models.DateTimeField(blank=True, null=True)),
            ("last_error", models.CharField(blank=True, max_length=500)),
            ("created_at", models.DateTimeField(auto_now_add=True)),
            ("sent_at", models.DateTimeField(blank=True, null=True)),
            ("read_at", models.DateTimeField(blank=True, null=True)),
            ("idempotency_key", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
            (
                "recipient",
                models.ForeignKey(
                    blank=True,
                    null=True,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="notifications",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
        ],
        options={
            "verbose_name": "notification",
            "verbose_name_plural": "notifications",
            "db_table": "consult_notification",
            "ordering": ["-created_at", "-id"],
            "indexes": [
                models.Index(
                    condition=models.Q(("state__in", ["pending", "sending"])),
                    fields=["next_attempt_at"],
                    name="notification_due",
                ),
                models.Index(
                    condition=models.Q(("channel", "in_app")),
                    fields=["recipient", "read_at"],
                    name="notification_bell",
                ),
            ],
        },
    ),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("consult", "0010_auditevent_notification_to_core"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=STATE,
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_core, content_types_to_consult),
    ]
