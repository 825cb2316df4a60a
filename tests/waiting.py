"""Waiting on a condition, never for a fixed time: what the tests do instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "",
               ignore: tuple[type[BaseException], ...] = ()) -> Any:
    """Poll ``predicate`` until it returns something true (returned), failing after ``timeout``
    with ``what`` in the message. Exceptions of the ``ignore`` types count as not yet (a server
    still starting refuses connections)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.02)


def wait_in_page(page: Any, test: str, arg: Any = None, timeout: float = 10.0) -> Any:
    """Poll ``test``, a JavaScript expression of ``arg``, in a Playwright page until it is
    truthy (returned). Not ``page.wait_for_function``: that evaluates a string inside the page,
    which Floor's pages' Content-Security-Policy rightly forbids."""
    return wait_until(lambda: page.evaluate(f"(arg) => ({test})", arg), timeout,
                      what=f"{test} ({arg!r})")
