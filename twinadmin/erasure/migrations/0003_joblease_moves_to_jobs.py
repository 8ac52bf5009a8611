from django.db import migrations


class Migration(migrations.Migration):
    """JobLease moves to the jobs app, which owns every job's lifecycle: the table stays (the jobs
    app renames it), only the model's owner changes."""

    dependencies = [("erasure", "0002_lineage_scope")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="JobLease")]),
    ]
