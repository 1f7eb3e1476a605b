"""One request ahead: the next page is fetched in a worker thread while this one is decoded and
written, so the API's round trip and the warehouse's work overlap instead of adding up
(docs/PERFORMANCE.md, "Against the official clients and the wire").

The request itself, its retries and its errors are unchanged: an error is raised where the
result is taken, i.e. after everything before it was written, exactly where a sequential
read would have raised it. Only one request is ever in flight, and it is asked for only once
what it asks for is known (the previous page's paging token, the next date), so no request is
made that a sequential read would not make — except the one in flight when a write fails.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Ahead:
    """``with Ahead() as ahead: f = ahead.submit(fn, ...); ...; f.result()``: at most one call
    in flight in one worker thread; leaving the block waits for it (its result dropped)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="advocacy-ahead")
        self._pending: Future[Any] | None = None

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        if self._pending is not None and not self._pending.done():
            raise RuntimeError("one request ahead at most: take the pending one first")
        self._pending = self._pool.submit(fn, *args, **kwargs)
        return self._pending

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
