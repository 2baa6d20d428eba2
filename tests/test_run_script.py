"""scripts/run.py's guards (issue 15, point 7): Django's debug pages stay on loopback, and the
embedded broker's password is made once, kept private, and never printed. The whole launcher
runs in tests/integration/test_embedded_run.py."""
from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("vmb_run_script", ROOT / "scripts" / "run.py")
assert _spec is not None and _spec.loader is not None
run_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_script)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_debug_stays_as_asked_on_loopback(host: str) -> None:
    assert run_script.debug_setting(host, None) == "true"
    assert run_script.debug_setting(host, "false") == "false"
    assert run_script.debug_setting(host, "true") == "true"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "vmb.example.org", "localhost.example.org"])
def test_debug_is_off_by_default_beyond_loopback(host: str) -> None:
    assert run_script.debug_setting(host, None) == "false"
    assert run_script.debug_setting(host, "") == "false"
    assert run_script.debug_setting(host, "0") == "false"


@pytest.mark.parametrize("debug", ["true", "1", "YES", " on "])
def test_debug_beyond_loopback_is_refused(debug: str) -> None:
    with pytest.raises(SystemExit, match="refusing DEBUG=.* with HOST=0.0.0.0"):
        run_script.debug_setting("0.0.0.0", debug)


def test_make_run_refuses_debug_on_a_public_address_before_starting_anything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"VMB_VAR_DIR": str(tmp_path / "var"), "HOST": "0.0.0.0", "DEBUG": "true"})
    result = subprocess.run([sys.executable, "scripts/run.py"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert "refusing DEBUG=true with HOST=0.0.0.0" in result.stderr
    assert not (tmp_path / "var" / "valkey").exists()  # no broker, no migration: nothing started


def test_the_broker_password_is_made_once_and_private(tmp_path: Path) -> None:
    first = run_script.broker_password(tmp_path)
    path = tmp_path / "valkey.password"
    assert len(first) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert run_script.broker_password(tmp_path) == first  # the next start keeps it
    path.chmod(0o644)
    assert run_script.broker_password(tmp_path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (tmp_path / "other").mkdir()
    assert run_script.broker_password(tmp_path / "other") != first  # random, not derived


def test_an_empty_password_file_gets_a_new_password(tmp_path: Path) -> None:
    (tmp_path / "valkey.password").write_text("\n")
    assert len(run_script.broker_password(tmp_path)) >= 32


def test_broker_urls_are_printed_without_their_password() -> None:
    assert run_script.redacted("redis://:s3cret@10.0.0.5:6379/0") == "redis://***@10.0.0.5:6379/0"
    assert run_script.redacted("redis://user:s3cret@host/1") == "redis://***@host/1"
    assert run_script.redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
