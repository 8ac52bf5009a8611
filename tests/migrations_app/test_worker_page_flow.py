"""Done when, from the page, on a real worker: an operator starts the seed's migration, the
Celery chain runs it (local store, and the real SDK against pinecone_local), and the run page -
polled as htmx polls it - ends verified with 29 twins and the creator-wide namespace."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from migrations_app.models import NamespaceMigration
from tests.support.seed import CREATOR
from tests.support.users import user_in_groups
from tests.support.vectors import DIM
from tests.support.workers import shared_vector_backend, wait_until
from twinadmin.accounts.roles import OPERATORS
from twinadmin.jobs.models import Job
from twinadmin.registry.models import Twin
from twinadmin.vectors import get_index
from twinadmin.vectors.seed import generate_legacy_seed, legacy_index_seed

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("backend", ["local", "sdk"])
def test_operator_starts_the_seed_migration_from_the_page(
    backend, start_worker, client, tmp_path: Path, settings
):
    settings.MIGRATION_BACKUP_DIR = tmp_path / "backups"
    env = {"MIGRATION_BACKUP_DIR": str(settings.MIGRATION_BACKUP_DIR)}
    with shared_vector_backend(backend, tmp_path=tmp_path, settings=settings, dimension=DIM) as backend_env:
        env |= backend_env
        legacy_index_seed(index=get_index(), seed_data=generate_legacy_seed(dimension=DIM))
        worker = start_worker(env=env)
        user = user_in_groups("mig-op", OPERATORS, password="pw")
        client.force_login(user)

        form = {"creator_id": CREATOR, "create_creator": "on", "default_policy": "creator", "naming": "uuid"}
        response = client.post(reverse("migrations-create-run"), {**form, "action": "start"})
        run = NamespaceMigration.objects.get()
        assert response.status_code == 302

        def finished():
            poll = client.get(run.get_absolute_url(), HTTP_HX_REQUEST="true")
            return poll if poll.status_code == 286 else None

        last = wait_until(
            finished, timeout=90, interval=0.3, what=lambda: f"the run to end:\n{worker.log_tail()}"
        )
        body = last.content.decode()
        assert 'data-status="succeeded"' in body and 'data-verified="true"' in body, body
        assert body.count('data-step="cut-over"') == 30
        assert Twin.objects.filter(creator__creator_id=CREATOR).count() == 29
        assert get_index().describe_namespace(f"creator_{CREATOR}").vector_count == 376
        assert worker.wait_for_job(run.job_id).status == Job.Status.SUCCEEDED
        assert "jobs.run_resumable_job" in worker.log()
