"""``python manage.py make_sample_ct``: write the synthetic chest CT set as DICOM series."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pipelines.datasets.synthetic_ct import write_chest_ct


class Command(BaseCommand):
    help = "Write a synthetic chest CT set (normal / pneumonia) as real DICOM series, one folder per class."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default="var/sample_ct", help="folder to write (replaced if it exists)")
        parser.add_argument("--patients", type=int, default=20)
        parser.add_argument("--slices", type=int, default=48)
        parser.add_argument("--size", type=int, default=128, help="rows and columns of each slice")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--zip", action="store_true", help="also write <out>.zip, ready to upload")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        for name in ("patients", "slices", "size"):
            if not 1 <= options[name] <= 2048:
                self.stderr.write(f"--{name} must be between 1 and 2048")
                raise SystemExit(2)
        shutil.rmtree(out, ignore_errors=True)
        files = write_chest_ct(out, patients=options["patients"], slices=options["slices"], size=options["size"],
                               seed=options["seed"])
        self.stdout.write(f"wrote {len(files)} DICOM slices of {options['patients']} patients to {out}/")
        if options["zip"]:
            archive = out.with_suffix(".zip")
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                for file in files:
                    zf.write(file, file.relative_to(out).as_posix())
            self.stdout.write(f"wrote {archive}")
