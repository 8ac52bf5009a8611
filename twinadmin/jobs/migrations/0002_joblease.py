import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """JobLease, moved from the erasure app: the existing table is taken over (state only), then
    renamed to this app's name."""

    dependencies = [("jobs", "0001_initial"), ("erasure", "0003_joblease_moves_to_jobs")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="JobLease",
                    fields=[
                        (
                            "job",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="lease",
                                serialize=False,
                                to="jobs.job",
                            ),
                        ),
                        ("owner", models.CharField(blank=True, max_length=200)),
                        ("expires_at", models.DateTimeField()),
                        (
                            "continued_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="jobs.job",
                            ),
                        ),
                    ],
                    options={"db_table": "erasure_joblease"},
                ),
            ]
        ),
        migrations.AlterModelTable(name="joblease", table=None),
    ]
