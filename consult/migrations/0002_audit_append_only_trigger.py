"""On PostgreSQL the audit table refuses UPDATE and DELETE at the database itself."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION consult_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consult_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consult_auditevent_no_change
    BEFORE UPDATE OR DELETE ON consult_auditevent
    FOR EACH ROW EXECUTE FUNCTION consult_auditevent_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS consult_auditevent_no_change ON consult_auditevent;
DROP FUNCTION IF EXISTS consult_auditevent_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("consult", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
