"""Where a stream of items is handed from one thread to the next: the stages of ingestion.

Ingestion is a pipeline of stages that each wait on something else: gunzip (ISA-L releases the
GIL), line validation (holds the GIL) and COPY (waits on the socket without the GIL). Each stage
in a thread of its own keeps both cores busy, and the database's, instead of running the stages
one after the other; a bounded queue between two stages bounds the memory held between them.

`in_thread` owns its thread: when its block is left, whether the consumer finished, abandoned the
items or raised, the thread is stopped and joined before anything else runs, so no thread
outlives the block and whatever the stages counted is final after it.
"""

import queue
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
# How often a producer blocked on a full queue checks whether it should stop.
STOP_POLL_SECONDS = 0.05


class _End:
    pass


@dataclass(frozen=True)
class _Raised:
    error: BaseException


@contextmanager
def in_thread(items: Iterable[T], *, name: str, ahead: int) -> Iterator[Iterator[T]]:
    """Iterate `items` in a thread named `name`, at most `ahead` items ahead of the consumer of
    the iterator this yields. An exception raised by `items` is raised to the consumer."""
    handover: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def hand_over(item: "T | type[_End] | _Raised") -> bool:
        while not stop.is_set():
            try:
                handover.put(item, timeout=STOP_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_End)
        except BaseException as error:  # KeyboardInterrupt too: it belongs to the consumer
            hand_over(_Raised(error))

    def consume() -> Iterator[T]:
        while (item := handover.get()) is not _End:
            if isinstance(item, _Raised):
                raise item.error
            yield item

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()
