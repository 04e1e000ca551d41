"""Run every benchmark in turn: ``make bench`` (or ``.venv/bin/python -m bench``).

Benchmarks are not tests: they measure on this machine and print ratios measured in one run
(against a naive baseline or a computed limit), because absolute figures are noisy here.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from pathlib import Path


def main() -> None:
    here = Path(__file__).parent
    for module in sorted(m.name for m in pkgutil.iter_modules([str(here)])):
        if module.startswith("_"):
            continue
        print(f"== bench.{module}")
        started = time.monotonic()
        importlib.import_module(f"bench.{module}").run()
        print(f"   ({time.monotonic() - started:.1f} s)\n")


if __name__ == "__main__":
    main()
