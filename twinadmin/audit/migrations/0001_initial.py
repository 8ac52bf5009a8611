from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='AuditHead',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('last_seq', models.BigIntegerField(default=0)),
                ('last_hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
            ],
        ),
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.BigIntegerField(unique=True)),
                ('at', models.DateTimeField()),
                ('actor', models.CharField(max_length=200)),
                ('action', models.CharField(max_length=100)),
                ('target_type', models.CharField(choices=[('creator', 'Creator'), ('twin', 'Twin'), ('namespace', 'Namespace'), ('backup', 'Backup'), ('run', 'Run'), ('request', 'Request'), ('index', 'Index')], max_length=20)),
                ('target_id', models.CharField(blank=True, max_length=512)),
                ('creator_id', models.CharField(blank=True, max_length=100)),
                ('correlation_id', models.UUIDField()),
                ('outcome', models.CharField(choices=[('intent', 'Intent'), ('success', 'Success'), ('failure', 'Failure'), ('info', 'Info')], max_length=10)),
                ('details', models.JSONField(blank=True, default=dict)),
                ('prev_hash', models.CharField(max_length=64)),
                ('entry_hash', models.CharField(max_length=64)),
            ],
            options={
                'verbose_name_plural': 'audit entries',
                'ordering': ['-seq'],
                'indexes': [models.Index(fields=['action', 'seq'], name='audit_action_seq'), models.Index(fields=['actor', 'seq'], name='audit_actor_seq'), models.Index(fields=['creator_id', 'seq'], name='audit_creator_seq'), models.Index(fields=['target_type', 'target_id', 'seq'], name='audit_target_seq'), models.Index(fields=['outcome', 'seq'], name='audit_outcome_seq'), models.Index(fields=['correlation_id', 'seq'], name='audit_correlation_seq'), models.Index(fields=['at'], name='audit_at')],
            },
        ),
    ]
