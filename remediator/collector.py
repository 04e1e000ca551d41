"""How often Python's cyclic garbage collector runs in a process that works many runs at once
(``remediator serve``; the benchmarks set it as the service does).

Python 3.11 collects its youngest generation after every 700 allocations (net of frees). A run
allocates thousands of objects (models, requests, steps) and stays alive across many awaits, so
each collection finds the runs in flight alive, moves them to the older generations, and
traverses them again there; every tenth of those collections is followed by one of the middle
generation, and their survivors add up to full collections of every object in the process, the
imported modules' included. In ``bench.remediation`` (10,000 failures across 1,000 companies)
the collector took 12 of the 39 s of CPU the run used. Collecting the youngest generation every
10,000 allocations instead: 4 of 30 s. The objects a collection frees are the same; cycles of
garbage wait longer (at most that many allocations) to be freed.

A run leaves no reference cycles either (its context, client and responses are freed by
reference counting when it ends; the tests that use ``tests/garbage.py`` guard it), so fewer
allocations outlive their run: at 10,000 failures the collector then ran 49 young collections
and no full one, for 0.75 s of CPU, where cyclic garbage had made it 117 and one for 3.3 s.
"""

from __future__ import annotations

import gc

YOUNGEST = 10_000


def pace() -> None:
    """Collect the youngest generation every ``YOUNGEST`` allocations; the older generations
    keep their ratios to it."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST, middle, oldest)
