"""Production settings pass Django's deployment checks; bad environment values fail loudly."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _manage(env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_with_production_settings() -> None:
    result = _manage(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "SECRET_KEY": "x7#kP2!vQ9$wL4^zR8&mN3*tB6(yH1)cJ5-dF0_gS2+aE4=uW8",
            "ALLOWED_HOSTS": "vmb.example.org",
        },
        "check", "--deploy", "--fail-level", "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_requires_secret_key() -> None:
    result = _manage({"DJANGO_SETTINGS_MODULE": "config.settings.production"}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


@pytest.mark.parametrize(("name", "value"), [("DEBUG", "maybe"), ("VMB_API_MAX_BODY_BYTES", "lots")])
def test_bad_environment_values_name_the_variable(name: str, value: str) -> None:
    result = _manage({"DJANGO_SETTINGS_MODULE": "config.settings.test", name: value}, "check")
    assert result.returncode != 0 and name in result.stderr


@pytest.mark.parametrize(("extra", "threads"), [({}, 0), ({"VMB_SERVING_THREADS": "3"}, 3)])
def test_serving_threads_default_to_onnx_runtime_and_can_be_set(extra: dict[str, str], threads: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VMB_SERVING_THREADS"}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.test", **extra})
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                             "from django.conf import settings; print(settings.SERVING_THREADS)"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == str(threads)


@pytest.mark.parametrize(("key", "why"), [
    ("dev-insecure-key-change-me-0123456789-abcdefghijklmnopqrstuvwxyz", "development key"),
    ("django-insecure-" + "k" * 40 + "abcdefgh", "development key"),
    ("short-but-random-Q9$wL4^zR8&mN3", "too weak"),
    ("a" * 30 + "b" * 30, "too weak"),
])
def test_production_refuses_a_weak_or_committed_secret_key(key: str, why: str) -> None:
    """`check --deploy` passes with these keys today (it only warns about some); production must not start."""
    result = _manage({"DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": key,
                      "ALLOWED_HOSTS": "vmb.example.org"}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "SECRET_KEY is" in result.stderr and why in result.stderr


def test_s3_storage_backend_reads_and_writes_a_real_bucket(s3_server, s3_bucket) -> None:  # type: ignore[no-untyped-def]
    """VMB_STORAGE_BACKEND=s3 with the S3_* variables makes Django's default storage an S3 bucket:
    a file saved through it is an object in that bucket on the S3 server (moto, tests/s3.py)."""
    code = ("from django.core.files.base import ContentFile; from django.core.files.storage import default_storage as s;"
            "name = s.save('probe/hello.txt', ContentFile(b'stored in s3')); print(name, type(s._wrapped).__name__)")
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.test", **s3_server.env(s3_bucket)}
    result = _manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["probe/hello.txt", "S3Storage"]
    body = s3_server.client().get_object(Bucket=s3_bucket, Key="probe/hello.txt")["Body"].read()
    assert body == b"stored in s3"


def test_s3_storage_without_a_bucket_names_the_variable() -> None:
    result = _manage({"DJANGO_SETTINGS_MODULE": "config.settings.test", "VMB_STORAGE_BACKEND": "s3", "S3_BUCKET": ""}, "check")
    assert result.returncode != 0
    assert "S3_BUCKET" in result.stderr
