"""The dataset ingest runtime: pure Python, NumPy and PyTorch, no Django.

``ingest.ingest()`` turns an uploaded source (a zip, a CSV, a NIfTI file) into a preprocessed,
memory-mapped cache with a recorded recipe, splits and statistics. Every bad file is reported by
name in the result's ``skipped`` list; nothing is ever written outside the working folder.
"""
