"""dsrs.ingest.pipeline: a stage in a thread of its own, which never outlives its block."""

import threading
import time

import pytest

from dsrs.ingest.pipeline import in_thread


def stage_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("stage")]


class Counted:
    """Items 0, 1, 2, ... up to `count`, counting those produced, raising `error` after `fail_after`."""

    def __init__(self, count: int, fail_after: int | None = None, error: BaseException | None = None):
        self.count, self.fail_after, self.error = count, fail_after, error
        self.produced = 0

    def __iter__(self):
        for item in range(self.count):
            if item == self.fail_after:
                raise self.error
            self.produced += 1
            yield item


def test_it_hands_over_every_item_in_order_and_ends_with_no_thread_left():
    with in_thread(range(1000), name="stage", ahead=4) as items:
        assert stage_threads() == ["stage"]
        assert list(items) == list(range(1000))

    assert stage_threads() == []


def test_an_exception_of_the_producer_reaches_the_consumer_after_the_items_before_it():
    received = []

    with (
        pytest.raises(EOFError, match="truncated"),
        in_thread(Counted(10, fail_after=3, error=EOFError("truncated")), name="stage", ahead=4) as items,
    ):
        for item in items:
            received.append(item)

    assert received == [0, 1, 2]
    assert stage_threads() == []


def test_a_keyboard_interrupt_in_the_producer_reaches_the_consumer():
    with (
        pytest.raises(KeyboardInterrupt),
        in_thread(Counted(10, fail_after=0, error=KeyboardInterrupt()), name="stage", ahead=4) as items,
    ):
        list(items)

    assert stage_threads() == []


def test_a_consumer_that_abandons_stops_the_producer_at_most_ahead_items_further():
    source = Counted(1_000_000)

    with in_thread(source, name="stage", ahead=4) as items:
        assert next(items) == 0

    produced = source.produced
    assert stage_threads() == []
    assert 1 <= produced <= 1 + 4 + 1  # the one taken, the queue's, the one waiting to go in
    time.sleep(0.1)
    assert source.produced == produced  # final once the block is left


def test_a_consumer_that_raises_stops_and_joins_the_producer_before_the_error_goes_on():
    source = Counted(1_000_000)

    with pytest.raises(RuntimeError, match="COPY failed"), in_thread(source, name="stage", ahead=4) as items:
        next(items)
        raise RuntimeError("COPY failed")

    assert stage_threads() == []
    produced = source.produced
    time.sleep(0.1)
    assert source.produced == produced


def test_stages_chain_and_an_error_of_the_first_reaches_the_last_consumer():
    def doubled(items):
        for item in items:
            yield item * 2

    with (
        pytest.raises(ValueError, match="bad block"),
        in_thread(Counted(100, fail_after=50, error=ValueError("bad block")), name="stage-read", ahead=2) as blocks,
        in_thread(doubled(blocks), name="stage-validate", ahead=2) as chunks,
    ):
        assert sum(chunks) == -1  # never reached: the error comes first

    assert stage_threads() == []


def test_chained_stages_abandoned_by_the_consumer_all_stop():
    def doubled(items):
        for item in items:
            yield item * 2

    with (
        in_thread(Counted(1_000_000), name="stage-read", ahead=2) as blocks,
        in_thread(doubled(blocks), name="stage-validate", ahead=2) as chunks,
    ):
        assert next(chunks) == 0

    assert stage_threads() == []
