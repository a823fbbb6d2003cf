import threading

import pytest

from sync.prefetch import prefetch


def test_prefetch_yields_every_page_in_order_from_another_thread():
    seen_threads = set()

    def pages():
        for i in range(10):
            seen_threads.add(threading.current_thread().name)
            yield i

    assert list(prefetch(pages())) == list(range(10))
    assert seen_threads == {"sync-prefetch"}


def test_prefetch_reraises_the_producers_error_after_the_pages_before_it():
    def pages():
        yield 1
        raise RuntimeError("provider down")

    got = []
    with pytest.raises(RuntimeError, match="provider down"):
        for page in prefetch(pages()):
            got.append(page)
    assert got == [1]


def test_stopping_early_stops_the_producer():
    produced = []

    def pages():
        for i in range(1000):
            produced.append(i)
            yield i

    for page in prefetch(pages(), depth=2):
        if page == 3:
            break
    assert len(produced) < 10
