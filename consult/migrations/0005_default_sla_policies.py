from django.db import migrations

DEFAULTS = {
    "routine": {"target_seconds": 4 * 3600, "breach_seconds": 6 * 3600},
    "urgent": {"target_seconds": 1 * 3600, "breach_seconds": 2 * 3600},
}


def create_defaults(apps, schema_editor):  # noqa: ANN001, ANN201
    SlaPolicy = apps.get_model("consult", "SlaPolicy")
    for priority, values in DEFAULTS.items():
        SlaPolicy.objects.get_or_create(priority=priority, defaults=values)


class Migration(migrations.Migration):
    dependencies = [("consult", "0004_consultations")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
