"""thresher.io.prefetched: a stream read ahead by a thread gives the same items in order, raises an
upstream error where it happened, and never leaves its thread running."""

import threading
import time

import pytest

from thresher.io import prefetched


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "thresher-prefetch"]


def test_items_in_order_and_nothing_for_none():
    assert list(prefetched(iter(range(100)), depth=3)) == list(range(100))
    assert list(prefetched(None)) == []
    assert list(prefetched([])) == []
    assert not _threads()


def test_an_upstream_error_is_raised_after_the_items_before_it():
    def source():
        yield "a"
        yield "b"
        raise OSError("the third batch is unreadable")

    got = []
    with pytest.raises(OSError, match="third batch"):
        for item in prefetched(source()):
            got.append(item)
    assert got == ["a", "b"] and not _threads()


def test_closing_early_stops_and_closes_the_source():
    closed = threading.Event()

    def source():
        try:
            for i in range(10_000):
                yield i
        finally:
            closed.set()

    stream = prefetched(source(), depth=2)
    assert [next(stream), next(stream)] == [0, 1]
    stream.close()
    assert not _threads() and closed.wait(5)


def test_a_consumer_error_stops_the_thread():
    with pytest.raises(ZeroDivisionError):
        for i in prefetched(iter(range(10_000))):
            if i == 5:
                1 / 0
    assert not _threads()


def test_it_reads_ahead_while_the_consumer_works():
    """The source's items are produced while the consumer sleeps: the whole takes about the longer
    of the two, not their sum."""
    def slow_source():
        for i in range(6):
            time.sleep(0.05)
            yield i

    start = time.perf_counter()
    for _ in prefetched(slow_source(), depth=2):
        time.sleep(0.05)
    assert time.perf_counter() - start < 0.5  # serial: 0.6 s; overlapped: about 0.35 s
