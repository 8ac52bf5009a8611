"""Done when: on the seed's layout (805 vectors / 30 namespaces / 376 in __default__),
`map_to_test_creator sainath.no.1` gives 29 twins plus the creator-wide namespace, all verified,
on the local store and through the real SDK against pinecone_local."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from migrations_app.models import MigrationItem, NamespaceBackup, NamespaceMigration
from tests.migrations_app.helpers import assert_same_vectors, read_all, twin_namespace
from tests.support.seed import CREATOR
from twinadmin.audit.models import AuditEntry
from twinadmin.jobs.models import Job
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.vectors import DEFAULT_NAMESPACE, get_index
from twinadmin.vectors.seed import legacy_index_seed

pytestmark = pytest.mark.django_db


def _map(capsys, *args: str) -> dict:
    call_command("map_to_test_creator", CREATOR, "--json", *args)
    return json.loads(capsys.readouterr().out)


def _assert_seed_mapped(report: dict, seed_data, index) -> None:
    assert report["status"] == "succeeded"
    assert report["verified"] is True
    assert len(report["namespaces"]) == 30
    assert sum(row["source_count"] for row in report["namespaces"]) == 805
    assert all(row["verified"] and row["source_count"] == row["target_count"] for row in report["namespaces"])

    creator = Creator.objects.get(creator_id=CREATOR)
    twins = Twin.objects.filter(creator=creator)
    assert twins.count() == 29
    legacy = sorted(ns for ns in seed_data.namespaces if ns != DEFAULT_NAMESPACE)
    assert sorted(t.legacy_namespace for t in twins) == legacy
    assert all(t.twin_id == t.legacy_namespace and t.status == Twin.Status.ACTIVE for t in twins)
    assert {t.namespace: t.vector_count for t in twins} == {
        twin_namespace(CREATOR, ns): len(seed_data.namespaces[ns]) for ns in legacy
    }

    # The index: every target holds exactly its source's vectors; sources are kept by default.
    shared = read_all(index, codec.creator_namespace(CREATOR))
    assert len(shared) == 376
    assert_same_vectors(shared, seed_data.namespaces[DEFAULT_NAMESPACE])
    for ns in legacy:
        assert_same_vectors(read_all(index, twin_namespace(CREATOR, ns)), seed_data.namespaces[ns])
        assert len(read_all(index, ns)) == len(seed_data.namespaces[ns])
    stats = index.describe_index_stats()
    assert stats.total_vector_count == 2 * 805 and len(stats.namespaces) == 60


def test_local_store_maps_the_seed_onto_29_twins_and_the_creator_namespace(seeded, seed_data, capsys):
    report = _map(capsys)

    _assert_seed_mapped(report, seed_data, get_index())
    run = NamespaceMigration.objects.get(pk=report["run"])
    assert run.created_creator is True
    # Each source has a complete backup holding the creator's data.
    backups = NamespaceBackup.objects.filter(run=run)
    assert backups.count() == 30
    assert set(backups.values_list("status", "creator_id")) == {("available", CREATOR)}
    assert sum(backups.values_list("vector_count", flat=True)) == 805
    # The generic jobs list shows the run, in step with it.
    job = Job.objects.get(pk=run.job_id)
    assert (job.kind, job.params, job.status) == (
        "namespace_migration",
        {"run": run.pk},
        Job.Status.SUCCEEDED,
    )
    assert job.result["verified"] is True
    # Audited: the plan, every backup, verification and registration, and the end.
    actions = list(
        AuditEntry.objects.filter(correlation_id=run.correlation_id).values_list("action", flat=True)
    )
    assert actions.count("migration.backup.create") == 30
    assert actions.count("migration.verify") == 30
    assert actions.count("migration.cutover.register") == 30
    assert {"migration.plan.create", "migration.run.finish"} <= set(actions)


def test_sdk_against_pinecone_local_maps_the_seed_the_same_way(pinecone_local, seed_data, capsys):
    server = pinecone_local()
    legacy_index_seed(index=get_index(), seed_data=seed_data)

    report = _map(capsys)

    _assert_seed_mapped(report, seed_data, server.store)
    assert server.request_count(path="/vectors/upsert") > 0  # it really went over HTTP


def test_delete_source_removes_each_source_only_after_verification(seeded, seed_data, capsys):
    report = _map(capsys, "--delete-source")

    assert report["verified"] is True
    index = get_index()
    assert set(index.describe_index_stats().namespaces) == {
        codec.creator_namespace(CREATOR),
        *(twin_namespace(CREATOR, ns) for ns in seed_data.namespaces if ns != DEFAULT_NAMESPACE),
    }
    assert all(MigrationItem.objects.filter(run_id=report["run"]).values_list("source_deleted", flat=True))
    run = NamespaceMigration.objects.get(pk=report["run"])
    deletes = AuditEntry.objects.filter(correlation_id=run.correlation_id, action="migration.source.delete")
    # Before and after, for each of the 30 sources.
    assert sorted(set(deletes.values_list("outcome", flat=True))) == ["intent", "success"]
    assert deletes.count() == 60
    assert deletes.filter(outcome="success").first().details["vectors_before"] > 0


def test_a_second_run_is_refused_once_the_sources_are_mapped(seeded, capsys):
    _map(capsys)
    with pytest.raises(Exception, match="already mapped to twin"):
        call_command("map_to_test_creator", CREATOR, "--json")
    assert NamespaceMigration.objects.count() == 1


def test_semantic_twins_and_default_as_its_own_twin(seeded, seed_data, capsys):
    report = _map(capsys, "--naming", "semantic", "--default-namespace", "twin")

    assert report["verified"] is True
    twins = Twin.objects.filter(creator__creator_id=CREATOR)
    assert twins.count() == 30
    default = twins.get(twin_id="default")
    assert (default.legacy_namespace, default.naming, default.vector_count) == (
        DEFAULT_NAMESPACE,
        "semantic",
        376,
    )
    assert all(t.twin_id == f"legacy-{t.legacy_namespace[:8]}" for t in twins.exclude(pk=default.pk))
    assert_same_vectors(read_all(get_index(), default.namespace), seed_data.namespaces[DEFAULT_NAMESPACE])
