"""/metrics: Prometheus text for the allowed addresses or the token, 404 for everyone else; job
counts, durations and index errors read from the database, so they hold whichever process (or
host) did the work."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.ops.conftest import REFUSING_HOST
from twinadmin.jobs.models import Job
from twinadmin.vectors import TransientError
from twinadmin.vectors.pinecone_adapter import PineconeIndex, RetryPolicy

pytestmark = pytest.mark.django_db

OUTSIDE = "203.0.113.7"


def _scrape(client, **extra) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _value(samples, name: str, **labels: str) -> float | None:
    for found, value in samples.get(name, []):
        if all(found.get(k) == v for k, v in labels.items()):
            return value
    return None


def _job(kind: str, status: str, *, ran: float | None = None, age_days: float = 0, error: str = "") -> Job:
    job = Job.objects.create(kind=kind, status=status, error=error)
    created = timezone.now() - dt.timedelta(days=age_days)
    fields: dict = {"created_at": created}
    if ran is not None:
        fields |= {"started_at": created, "finished_at": created + dt.timedelta(seconds=ran)}
    Job.objects.filter(pk=job.pk).update(**fields)  # auto_now_add: set the past afterwards
    return job


def test_loopback_reads_metrics_and_other_addresses_get_404(client, settings) -> None:
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "::1"]
    settings.METRICS_TOKEN = ""
    samples = _scrape(client, REMOTE_ADDR="127.0.0.1")
    assert "django_http_requests_before_middlewares_total" in samples
    assert _value(samples, "twinadmin_metrics_database_up") == 1
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 404
    # Through a proxy every request comes from loopback: a forwarded one needs the token.
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE).status_code == 404


def test_the_token_opens_metrics_from_anywhere_and_a_wrong_one_does_not(client, settings) -> None:
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_TOKEN = "scrape-token-1"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer nope").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="scrape-token-1").status_code == 404
    _scrape(client, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer scrape-token-1")


def test_allowed_networks_and_a_bad_entry(client, settings) -> None:
    settings.METRICS_ALLOWED_IPS = ["not-an-address", "10.0.0.0/8"]
    settings.METRICS_TOKEN = ""
    _scrape(client, REMOTE_ADDR="10.20.30.40")
    assert client.get("/metrics", REMOTE_ADDR="11.0.0.1").status_code == 404


def test_jobs_are_counted_by_kind_and_status(client) -> None:
    for _ in range(3):
        _job("delete_twin", Job.Status.SUCCEEDED)
    _job("delete_twin", Job.Status.FAILED)
    _job("namespace_migration", Job.Status.RUNNING)
    samples = _scrape(client)
    assert _value(samples, "twinadmin_jobs", kind="delete_twin", status="succeeded") == 3
    assert _value(samples, "twinadmin_jobs", kind="delete_twin", status="failed") == 1
    assert _value(samples, "twinadmin_jobs", kind="namespace_migration", status="running") == 1
    # Every status of a known kind has a series, 0 when no job is in it.
    assert _value(samples, "twinadmin_jobs", kind="erase_creator", status="failed") == 0


def test_durations_of_recent_finished_erasure_and_migration_jobs(client) -> None:
    _job("erase_creator", Job.Status.SUCCEEDED, ran=42)
    _job("erase_creator", Job.Status.SUCCEEDED, ran=400)
    _job("erase_creator", Job.Status.SUCCEEDED, ran=3, age_days=8)  # outside the window
    _job("delete_twin", Job.Status.FAILED, ran=2)
    _job("erase_creator", Job.Status.RUNNING)  # not finished
    _job("namespace_migration", Job.Status.SUCCEEDED, ran=7200)
    samples = _scrape(client)
    erasure = "twinadmin_erasure_job_duration_seconds"
    assert _value(samples, f"{erasure}_count", kind="erase_creator", status="succeeded") == 2
    assert _value(samples, f"{erasure}_sum", kind="erase_creator", status="succeeded") == 442
    assert _value(samples, f"{erasure}_bucket", kind="erase_creator", status="succeeded", le="60.0") == 1
    assert _value(samples, f"{erasure}_bucket", kind="erase_creator", status="succeeded", le="600.0") == 2
    assert _value(samples, f"{erasure}_count", kind="delete_twin", status="failed") == 1
    migration = "twinadmin_migration_job_duration_seconds"
    assert _value(samples, f"{migration}_count", status="succeeded") == 1
    assert _value(samples, f"{migration}_bucket", status="succeeded", le="3600.0") == 0
    assert _value(samples, f"{migration}_bucket", status="succeeded", le="7200.0") == 1


def test_jobs_failed_by_index_errors_are_counted_wherever_they_ran(client) -> None:
    _job("namespace_migration", Job.Status.FAILED, error="TransientError: 503 from the index\n\n...")
    _job("namespace_migration", Job.Status.FAILED, error="TransientError: timed out")
    _job("erase_creator", Job.Status.FAILED, error="RateLimited: slow down")
    _job("erase_creator", Job.Status.FAILED, error="ValueError: not the index")
    _job("erase_creator", Job.Status.FAILED, error="RateLimited: long ago", age_days=30)
    samples = _scrape(client)
    name = "twinadmin_failed_jobs_index_errors"
    assert _value(samples, name, kind="namespace_migration", error="TransientError") == 2
    assert _value(samples, name, kind="erase_creator", error="RateLimited") == 1
    assert _value(samples, name, error="ValueError") is None


def test_failed_index_requests_of_this_process_are_counted(client) -> None:
    before = _value(_scrape(client), "twinadmin_index_request_errors_total", error="TransientError") or 0
    with pytest.raises(Exception) as caught:
        PineconeIndex(
            api_key="test-key",
            host=f"http://{REFUSING_HOST}",
            retry=RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.01),
        )
    assert isinstance(caught.value.__cause__, TransientError)
    after = _value(_scrape(client), "twinadmin_index_request_errors_total", error="TransientError")
    assert after == before + 2  # each failed attempt, the retried one too
