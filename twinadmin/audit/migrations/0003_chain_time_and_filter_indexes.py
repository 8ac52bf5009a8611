from django.db import migrations, models


def head_time_from_newest_entry(apps, schema_editor):
    AuditHead = apps.get_model("audit", "AuditHead")
    AuditEntry = apps.get_model("audit", "AuditEntry")
    newest = AuditEntry.objects.order_by("-seq").values_list("at", flat=True).first()
    if newest is not None:
        AuditHead.objects.filter(pk=1).update(last_at=newest)


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_append_only_trigger'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='auditentry',
            name='audit_action_seq',
        ),
        migrations.RemoveIndex(
            model_name='auditentry',
            name='audit_target_seq',
        ),
        migrations.RemoveIndex(
            model_name='auditentry',
            name='audit_at',
        ),
        migrations.AddField(
            model_name='audithead',
            name='last_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(head_time_from_newest_entry, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['action', 'seq'], name='audit_action_seq', opclasses=['varchar_pattern_ops', 'int8_ops']),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['target_type', 'seq'], name='audit_target_type_seq'),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['target_id', 'seq'], name='audit_target_id_seq'),
        ),
        migrations.AddIndex(
            model_name='auditentry',
            index=models.Index(fields=['at', 'seq'], name='audit_at_seq'),
        ),
    ]
