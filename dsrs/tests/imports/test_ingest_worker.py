"""`manage.py ingest_worker`: its options, as given to the worker (the worker itself runs in
test_imports_workers.py)."""

import pytest
from django.core.management import CommandError, call_command


@pytest.fixture
def started(monkeypatch) -> list[dict]:
    calls = []
    monkeypatch.setattr("dsrs.management.commands.ingest_worker.run_worker", lambda **options: calls.append(options))
    return calls


def test_by_default_one_job_at_a_time_from_the_imports_and_derived_queues(started):
    call_command("ingest_worker")

    assert (started[0]["concurrency"], started[0]["queues"], started[0]["name"].startswith("ingest-")) == (
        1,
        ["imports", "derived"],
        True,
    )


def test_concurrency_and_queues_are_given_to_the_worker(started):
    call_command("ingest_worker", "--concurrency", "3", "--queue", "big", "--queue", "imports")

    assert (started[0]["concurrency"], started[0]["queues"]) == (3, ["big", "imports"])


@pytest.mark.parametrize("value", ["0", "-1", "two", "٢"])
def test_a_concurrency_that_is_not_a_positive_number_is_refused(started, value):
    with pytest.raises(CommandError, match=f"argument --concurrency: invalid positive_int value: '{value}'"):
        call_command("ingest_worker", "--concurrency", value)

    assert started == []
