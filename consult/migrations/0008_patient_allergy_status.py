"""Allergies become three states. Existing rows: a blank field means nobody recorded an
answer (not_recorded), a filled one is a list (listed); no row becomes none_known, because
a blank field never said "no known allergies"."""

from django.db import migrations, models
from django.db.models.functions import Trim


def allergy_status_from_text(apps, schema_editor) -> None:  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        # Check the (deferred) foreign keys of the updated rows now: PostgreSQL refuses the
        # ALTER TABLE that adds the constraint below while trigger events are pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    Patient = apps.get_model("consult", "Patient")
    Patient.objects.update(allergies=Trim("allergies"))
    Patient.objects.filter(allergies="").update(allergy_status="not_recorded")
    Patient.objects.exclude(allergies="").update(allergy_status="listed")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")


def text_only(apps, schema_editor) -> None:  # noqa: ANN001
    """Going back, the list stays; "no known allergies" has no place in the old field and is
    lost (the old field could not say it)."""


class Migration(migrations.Migration):
    dependencies = [
        ("consult", "0007_login_security"),
    ]

    operations = [
        migrations.AddField(
            model_name="patient",
            name="allergy_status",
            field=models.CharField(
                choices=[
                    ("not_recorded", "not recorded"),
                    ("none_known", "no known allergies"),
                    ("listed", "allergies listed"),
                ],
                default="not_recorded",
                max_length=12,
                verbose_name="allergy status",
            ),
        ),
        migrations.RunPython(allergy_status_from_text, text_only),
        migrations.AddConstraint(
            model_name="patient",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("allergy_status", "listed"), models.Q(("allergies", ""), _negated=True)
                    ),
                    models.Q(
                        models.Q(("allergy_status", "listed"), _negated=True), ("allergies", "")
                    ),
                    _connector="OR",
                ),
                name="patient_allergies_match_status",
                violation_error_message="Allergies are listed only when their status says so.",
            ),
        ),
    ]
