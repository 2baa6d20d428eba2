"""The metric store every process of an installation shares: prometheus_client in multiprocess mode.

Each process (web, serving, each Celery worker child) writes its counters and histograms to its own
files in one folder; ``/metrics`` reads the whole folder at scrape time and adds them up. Import
``Counter`` and ``Histogram`` from here, never from prometheus_client directly: prometheus_client
picks its value store from the environment when it is first imported, which may come before any
setting is read; this module names the folder and installs the multiprocess store itself, so a
metric made after it is imported is shared whatever was imported first. No Django here: the
serving app imports it too (docs/metrics.md).

The folder is ``PROMETHEUS_MULTIPROC_DIR``; unset, ``<VMB_VAR_DIR or ./var>/prometheus``.
"""
from __future__ import annotations

import os
import re
import socket
from pathlib import Path


def multiprocess_dir() -> Path:
    """The shared folder (created when missing); sets ``PROMETHEUS_MULTIPROC_DIR`` when unset."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        var = os.environ.get("VMB_VAR_DIR") or str(Path(__file__).resolve().parent.parent / "var")
        folder = os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(Path(var) / "prometheus")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def process_identifier() -> str:
    """This process's name in the folder's file names: host and pid, so that containers sharing
    the folder through a volume (each with its own pid 1, 7, ...) never write the same file.
    prometheus_client splits file names on ``_``, so the host name must not contain one."""
    return f"{re.sub(r'[^A-Za-z0-9.-]', '-', socket.gethostname())}-{os.getpid()}"


multiprocess_dir()

from prometheus_client import Counter, Histogram, values  # noqa: E402  (after the folder is named)
from prometheus_client import multiprocess as _multiprocess  # noqa: E402

values.ValueClass = values.MultiProcessValue(process_identifier)


def mark_process_dead(identifier: str | None = None) -> None:
    """Remove the live-gauge files of a process that has exited (this one by default). Counters and
    histograms stay: their counts belong in the totals until the folder is cleared at start."""
    _multiprocess.mark_process_dead(identifier or process_identifier(), str(multiprocess_dir()))


__all__ = ["Counter", "Histogram", "mark_process_dead", "multiprocess_dir", "process_identifier"]
