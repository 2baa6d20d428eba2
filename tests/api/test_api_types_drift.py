"""The browser's generated API types match the schema the server describes now.

The frontend is typed by ``frontend/src/api/schema.d.ts``, generated from the committed schema
snapshot ``frontend/src/api/openapi.json``. A serializer or view change that alters the schema
without regenerating both files fails here, so CI (``make test``) catches the drift.
"""
from __future__ import annotations

import difflib
from pathlib import Path

from django.db import connection

from scripts.gen_api_types import API_DIR, SCHEMA_FILE, TYPES_FILE, generate

FIX = "run `make api-types` and commit frontend/src/api/openapi.json and frontend/src/api/schema.d.ts"


def _drift(committed: Path, fresh: Path) -> str | None:
    """None when both files hold the same text, else the first lines of a unified diff."""
    old = committed.read_text() if committed.exists() else ""
    new = fresh.read_text()
    if old == new:
        return None
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), f"committed {committed.name}",
                                f"generated {fresh.name}", lineterm="", n=1)
    return "\n".join(list(diff)[:40])


def test_generated_api_types_match_the_committed_ones(tmp_path: Path) -> None:
    # The schema's integer bounds follow the database vendor; the committed files are PostgreSQL's.
    assert connection.vendor == "postgresql", "the schema snapshot is generated with PostgreSQL settings"
    generate(tmp_path)
    problems = [f"{name} is out of date:\n{diff}" for name in (SCHEMA_FILE, TYPES_FILE)
                if (diff := _drift(API_DIR / name, tmp_path / name)) is not None]
    assert not problems, f"The API types drifted from the server's schema; {FIX}.\n\n" + "\n\n".join(problems)
