"""Without Chromium, a test session runs everything else and reports the browser tests as skipped,
naming the command that installs it (tests/conftest.py; `make test` installs Chromium only as root)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A plugin for the inner session: the Chromium it looks for is a path that does not exist.
ABSENT = '''
from pathlib import Path

def pytest_configure(config):
    import tests.conftest
    tests.conftest.CHROMIUM = Path("/nonexistent/chromium")
'''


def test_browser_tests_are_skipped_with_the_install_command_and_the_rest_runs(tmp_path: Path) -> None:
    (tmp_path / "absent_chromium.py").write_text(ABSENT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    session = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "absent_chromium", "-p", "no:cacheprovider",
         "tests/e2e/test_first_visit.py", "tests/test_node.py::test_engines_are_read_from_package_json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = session.stdout + session.stderr
    assert session.returncode == 0, output[-4000:]
    summary = output.strip().splitlines()[-1]
    assert " 1 passed" in summary and " skipped" in summary and "failed" not in summary, summary
    assert ("browser test: no Chromium at /nonexistent/chromium; install it with `sudo apt-get install "
            "chromium`, then run make test again") in output
