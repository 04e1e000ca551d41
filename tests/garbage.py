"""What the tests that guard against reference cycles share: the objects that only Python's
garbage collector could free, among those that became garbage while a block ran."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_garbage() -> Iterator[list[object]]:
    """The objects left in reference cycles by the block (filled in when it ends). The
    collector is off while the block runs, so that what reference counting frees is freed and
    what it cannot is still there to be found."""
    gc.collect()
    gc.disable()
    found: list[object] = []
    try:
        yield found
    finally:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            found.extend(gc.garbage)
            gc.garbage.clear()
        finally:
            gc.set_debug(0)
            gc.enable()
