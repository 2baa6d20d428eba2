"""``python manage.py make_sample_ct``: write the synthetic chest CT set as DICOM series, with each
patient's lesion mask (NIfTI) beside its slices."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from pipelines.datasets.synthetic_ct import MASK_NAME, write_chest_ct


class Command(BaseCommand):
    help = ("Write a synthetic chest CT set (normal / pneumonia) as real DICOM series, one folder per class, "
            "with a lesion mask (lesion_mask.nii.gz) beside each patient's slices.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", default="var/sample_ct", help="folder to write (replaced if it exists)")
        parser.add_argument("--patients", type=int, default=20)
        parser.add_argument("--slices", type=int, default=48,
                            help="slices of a patient scanned at 2.5 mm (thinner scans get more, thicker fewer); "
                                 "0: each scanner's own count at its 1-5 mm (over 100 slices a patient)")
        parser.add_argument("--size", type=int, default=128,
                            help="rows and columns of each slice (512: the scanners' own 0.6-0.9 mm pixels)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--zip", action="store_true", help="also write <out>.zip, ready to upload")

    def handle(self, *args: Any, **options: Any) -> None:
        out = Path(options["out"])
        for name in ("patients", "slices", "size"):
            if not (0 if name == "slices" else 1) <= options[name] <= 2048:
                self.stderr.write(f"--{name} must be between {0 if name == 'slices' else 1} and 2048")
                raise SystemExit(2)
        shutil.rmtree(out, ignore_errors=True)
        files = write_chest_ct(out, patients=options["patients"], slices=options["slices"] or None,
                               size=options["size"], seed=options["seed"])
        self.stdout.write(f"wrote {len(files)} DICOM slices of {options['patients']} patients, and their "
                          f"lesion masks ({MASK_NAME}), to {out}/")
        if options["zip"]:
            archive = out.with_suffix(".zip")
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
                for file in files:
                    zf.write(file, file.relative_to(out).as_posix())
            self.stdout.write(f"wrote {archive}")
