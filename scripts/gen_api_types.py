"""Regenerate the browser's API contract: the OpenAPI schema snapshot and its TypeScript types.

``make api-types`` (or ``.venv/bin/python scripts/gen_api_types.py [OUT_DIR]``) writes
``openapi.json`` (drf-spectacular) and ``schema.d.ts`` (openapi-typescript, from
``frontend/node_modules``; nothing is downloaded) into ``frontend/src/api/`` or OUT_DIR.
``tests/api/test_api_types_drift.py`` runs the same ``generate`` and fails when the committed
files differ from what the server describes now.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_DIR = ROOT / "frontend" / "src" / "api"
SCHEMA_FILE = "openapi.json"
TYPES_FILE = "schema.d.ts"
OPENAPI_TYPESCRIPT = ROOT / "frontend" / "node_modules" / ".bin" / "openapi-typescript"
# drf-spectacular marks a request field with a default as optional but still writes the default;
# openapi-typescript would otherwise turn every such field into a required one.
OPENAPI_TYPESCRIPT_ARGS = ["--default-non-nullable", "false"]


def write_schema(out_dir: Path) -> Path:
    """Writes the OpenAPI schema as JSON to ``out_dir/openapi.json``; Django must be set up."""
    from django.core.management import call_command

    path = out_dir / SCHEMA_FILE
    call_command("spectacular", format="openapi-json", file=str(path))
    return path


def write_types(schema: Path, out_dir: Path) -> Path:
    """Writes the TypeScript types of ``schema`` to ``out_dir/schema.d.ts``."""
    if not OPENAPI_TYPESCRIPT.exists():
        raise RuntimeError(f"{OPENAPI_TYPESCRIPT} is missing: install the frontend first "
                           "(npm --prefix frontend ci, or make frontend/node_modules/.installed)")
    path = out_dir / TYPES_FILE
    subprocess.run([str(OPENAPI_TYPESCRIPT), str(schema), "--output", str(path), *OPENAPI_TYPESCRIPT_ARGS],
                   cwd=ROOT / "frontend", check=True, capture_output=True, text=True)
    return path


def generate(out_dir: Path) -> tuple[Path, Path]:
    """Writes both files into ``out_dir``; returns their paths (schema, types)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    schema = write_schema(out_dir)
    return schema, write_types(schema, out_dir)


def main(argv: list[str]) -> int:
    # The test settings, as the drift test uses: the database vendor decides integer bounds in
    # the schema (PostgreSQL's, as in production). No connection is made.
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["DATABASE_URL"] = "postgres://schema@127.0.0.1:5432/schema"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    out_dir = Path(argv[0]).resolve() if argv else API_DIR
    try:
        for path in generate(out_dir):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    except subprocess.CalledProcessError as exc:
        print(f"openapi-typescript failed:\n{exc.stdout}{exc.stderr}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
