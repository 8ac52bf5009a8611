"""Writers in several threads (each its own database connection) append to one chain: every
seq used once, no gaps, every entry linked to the one before. The head-row lock is what makes
this hold on PostgreSQL; on SQLite it is the IMMEDIATE transaction."""

import threading

import pytest
from django.db import connection, transaction

from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_chain_verify, audit_record

THREADS = 8
PER_THREAD = 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_make_one_gapless_unforked_chain():
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                kwargs = {"action": "twin.delete.start", "target_type": "twin", "target_id": f"w{n}-{i}"}
                if i % 2:  # half inside a caller's transaction, half on their own
                    with transaction.atomic():
                        audit_record(actor=f"writer{n}", **kwargs)
                else:
                    audit_record(actor=f"writer{n}", **kwargs)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors

    total = THREADS * PER_THREAD
    rows = list(AuditEntry.objects.order_by("seq").values_list("seq", "prev_hash", "entry_hash", "target_id"))
    assert [seq for seq, *_ in rows] == list(range(1, total + 1))
    assert all(rows[i][1] == rows[i - 1][2] for i in range(1, total))
    assert len({target for *_, target in rows}) == total
    # Each writer's own entries keep their order along the chain.
    for n in range(THREADS):
        mine = [t for *_, t in rows if t.startswith(f"w{n}-")]
        assert mine == [f"w{n}-{i}" for i in range(PER_THREAD)]
    report = audit_chain_verify()
    assert report.ok and report.entries == total
