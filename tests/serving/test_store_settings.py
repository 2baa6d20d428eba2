"""The serving app's store settings from the environment (serving/settings.py): the same variables
Django's settings read, failing loudly on a bad value."""
from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.storage.s3 import S3Location
from serving.settings import ServingSettings, SettingsError


def test_no_backend_means_the_models_folder() -> None:
    settings = ServingSettings.from_env({"VMB_VAR_DIR": "/srv/vmb"})
    assert settings.store is None
    assert settings.cache_dir == Path("/srv/vmb/cache") and settings.cache_bytes == 20 * 1024**3


def test_s3_backend_names_the_bucket_and_the_cache() -> None:
    settings = ServingSettings.from_env({
        "VMB_STORAGE_BACKEND": "s3", "S3_BUCKET": "models", "S3_ENDPOINT_URL": "http://minio:9000",
        "S3_ACCESS_KEY_ID": "id", "S3_SECRET_ACCESS_KEY": "secret", "VMB_CACHE_DIR": "/cache",
        "VMB_CACHE_BYTES": "1048576", "VMB_SERVING_INDEX_POLL_MS": "250"})
    assert settings.store == S3Location(bucket="models", endpoint_url="http://minio:9000", access_key="id",
                                        secret_key="secret")
    assert settings.cache_dir == Path("/cache") and settings.cache_bytes == 1048576
    assert settings.index_poll_s == 0.25
    assert "secret" not in repr(settings.store)


@pytest.mark.parametrize(("env", "named"), [
    ({"VMB_STORAGE_BACKEND": "s3"}, "S3_BUCKET"),
    ({"VMB_CACHE_BYTES": "lots"}, "VMB_CACHE_BYTES"),
    ({"VMB_CACHE_BYTES": "0"}, "VMB_CACHE_BYTES"),
    ({"VMB_SERVING_INDEX_POLL_MS": "1"}, "VMB_SERVING_INDEX_POLL_MS"),
])
def test_a_bad_value_fails_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        ServingSettings.from_env(env)
