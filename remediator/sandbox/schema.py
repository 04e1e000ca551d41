"""Print the state file's JSON Schema: ``python -m remediator.sandbox.schema > docs/sandbox-state.schema.json``."""

from __future__ import annotations

import json

from remediator.sandbox.state import json_schema

if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))  # noqa: T201
