"""Fetch the next page while the current one is being applied; apply pages in larger batches.

A pull alternates provider time (waiting for HTTP) and database time (applying a page); running the
connector's page generator one page ahead on a thread overlaps the two. Connectors do no ORM work,
but OAuth token refresh may touch the database, so the thread closes its own connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

from django.db import connection

from connectors.base import Page

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def prefetch(pages: Iterable[T], *, depth: int = 2) -> Iterator[T]:
    """Yield from ``pages`` with up to ``depth`` items fetched ahead; re-raise the producer's errors."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        buffer.put(page, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer, which re-raises it)
            buffer.put(_Failure(exc))
        finally:
            # Close only a connection this thread opened (tests share one across threads).
            if getattr(connection, "_thread_ident", None) == threading.get_ident():
                connection.close()

    thread = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def coalesce(pages: Iterable[Page], *, limit: int) -> Iterator[Page]:
    """Merge consecutive pages until they hold ``limit`` records: one transaction then applies
    several small provider pages (HubSpot's 200, Pipedrive's 500), so the per-transaction work (links,
    cursor, counters, lease) is paid once. Records keep their order, so a record seen twice keeps its
    later state; the merged page carries the last cursor given, stored only once all are applied."""
    records: list = []
    cursor: str | None = None
    remaining: int | None = None
    for page in pages:
        records.extend(page.records)
        cursor = page.cursor if page.cursor is not None else cursor
        remaining = page.remaining if page.remaining is not None else remaining
        if len(records) >= limit:
            yield Page(records=records, cursor=cursor, remaining=remaining)
            records, cursor, remaining = [], None, None
    if records or cursor is not None:
        yield Page(records=records, cursor=cursor, remaining=remaining)
