from celery import shared_task


@shared_task(name="migrations.backup_expiry", ignore_result=True, acks_late=False)
def backup_expiry_task() -> int:
    """Beat runs this every MIGRATION_BACKUP_EXPIRY_SECONDS: backups past their expiry are
    deleted from wherever they live, each deletion audited (backups_expire). Idempotent: a round
    that dies part-way is finished by the next."""
    from migrations_app.services.backup_records import backups_expire

    return len(backups_expire())
