"""Reading objects from an S3-compatible store without Django, for processes that have no Django
(the serving app): the same bucket and credentials ``config/settings/base.py`` gives django-storages,
from the same environment variables (``VMB_STORAGE_BACKEND=s3``, ``S3_BUCKET``, ``S3_ENDPOINT_URL``,
``S3_ACCESS_KEY_ID``, ``S3_SECRET_ACCESS_KEY``, ``S3_REGION``)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

S3_BACKENDS = ("s3", "storages.backends.s3.S3Storage")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    endpoint_url: str | None = None
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    region: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> S3Location | None:
        """The store the environment names, or None when artifacts stay on the local filesystem.
        Raises ``ValueError`` when ``VMB_STORAGE_BACKEND=s3`` comes without ``S3_BUCKET``."""
        if env.get("VMB_STORAGE_BACKEND", "") not in S3_BACKENDS:
            return None
        if not env.get("S3_BUCKET"):
            raise ValueError("VMB_STORAGE_BACKEND=s3 needs S3_BUCKET")
        return cls(bucket=env["S3_BUCKET"], endpoint_url=env.get("S3_ENDPOINT_URL") or None,
                   access_key=env.get("S3_ACCESS_KEY_ID") or None, secret_key=env.get("S3_SECRET_ACCESS_KEY") or None,
                   region=env.get("S3_REGION") or None)

    def client(self) -> Any:
        return _client(self)

    def open(self, name: str) -> IO[bytes]:
        """The object ``name``'s bytes as a stream (a context manager). Raises
        ``FileNotFoundError`` when there is no such object."""
        from botocore.exceptions import ClientError

        try:
            body: IO[bytes] = self.client().get_object(Bucket=self.bucket, Key=name)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(f"s3://{self.bucket}/{name} does not exist") from exc
            raise
        return body


_clients: dict[S3Location, Any] = {}


def _client(location: S3Location) -> Any:
    # boto3 clients are thread-safe once made; making one is not, and takes ~50 ms: one per store.
    client = _clients.get(location)
    if client is None:
        import boto3

        client = _clients[location] = boto3.client(
            "s3", endpoint_url=location.endpoint_url, aws_access_key_id=location.access_key,
            aws_secret_access_key=location.secret_key, region_name=location.region)
    return client
