import threading

import pytest

from connectors.base import Page, RemoteRecord
from sync.prefetch import coalesce, prefetch


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


def _page(ids: list[str], cursor: str | None, remaining: int | None = None) -> Page:
    return Page(
        records=[RemoteRecord(id=i, modified_at=None, fields={}) for i in ids],
        cursor=cursor,
        remaining=remaining,
    )


def test_coalesce_merges_pages_up_to_the_limit_in_order_with_the_last_cursor():
    pages = [
        _page(["1", "2"], "c1", 9),
        _page(["3"], None),
        _page(["4", "1"], "c3", 5),
        _page(["5"], "c4", 0),
    ]

    merged = list(coalesce(pages, limit=4))

    assert [[r.id for r in p.records] for p in merged] == [["1", "2", "3", "4", "1"], ["5"]]
    assert [(p.cursor, p.remaining) for p in merged] == [("c3", 5), ("c4", 0)]


def test_coalesce_keeps_a_cursor_that_comes_with_no_records():
    merged = list(coalesce([_page(["1"], "c1"), _page([], "c2")], limit=10))

    assert len(merged) == 1 and merged[0].cursor == "c2" and [r.id for r in merged[0].records] == ["1"]
    assert list(coalesce([], limit=10)) == []
