"""Upload an export folder to ``s3://bucket/prefix`` with boto3.

Credentials come from boto3's standard chain (environment, shared files,
instance or container roles) and are never read or logged here. Settings,
all optional, under ``exports`` in the environment file:

- ``s3_endpoint_url``: an S3-compatible server instead of AWS;
- ``s3_region``: the bucket's region;
- ``s3_sse``: server-side encryption, ``AES256`` or ``aws:kms``;
- ``s3_sse_kms_key_id``: the KMS key for ``aws:kms``;
- ``s3_multipart_threshold_mb`` (default 64) and ``s3_multipart_chunk_mb``
  (default 16): files at or above the threshold upload in parts of this size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import boto3
from boto3.s3.transfer import TransferConfig

from pipelines.errors import ConfigError, MeterhouseError

log = logging.getLogger(__name__)

MEGABYTE = 1024 * 1024
SSE_CHOICES = ("AES256", "aws:kms")


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str | None
    sse: str | None
    kms_key_id: str | None
    multipart_threshold: int
    multipart_chunk: int


def is_s3_destination(destination: str) -> bool:
    return destination.startswith("s3://")


def s3_target(destination: str, exports: dict) -> S3Target:
    """Parse ``s3://bucket/prefix`` and the ``exports.s3_*`` settings; report every problem at once."""
    parsed = urlparse(destination)
    problems = []
    if not parsed.netloc:
        problems.append(f"destination {destination!r}: expected s3://bucket/prefix")
    sse = exports.get("s3_sse")
    if sse is not None and sse not in SSE_CHOICES:
        problems.append(f"exports.s3_sse: expected one of {list(SSE_CHOICES)}, found {sse!r}")
    sizes = {}
    for key, default in (("s3_multipart_threshold_mb", 64), ("s3_multipart_chunk_mb", 16)):
        try:
            sizes[key] = int(exports.get(key, default))
        except (TypeError, ValueError):
            problems.append(f"exports.{key}: expected a whole number of megabytes, found {exports.get(key)!r}")
            sizes[key] = default
    # S3 rejects parts below 5 MB except the last one.
    if sizes["s3_multipart_chunk_mb"] < 5:
        problems.append(f"exports.s3_multipart_chunk_mb: S3 parts must be at least 5 MB, found {sizes['s3_multipart_chunk_mb']}")
    if problems:
        raise ConfigError("exports", problems)
    return S3Target(bucket=parsed.netloc, prefix=parsed.path.strip("/"), endpoint_url=exports.get("s3_endpoint_url"),
                    region=exports.get("s3_region"), sse=sse, kms_key_id=exports.get("s3_sse_kms_key_id"),
                    multipart_threshold=sizes["s3_multipart_threshold_mb"] * MEGABYTE,
                    multipart_chunk=sizes["s3_multipart_chunk_mb"] * MEGABYTE)


def upload_folder(folder: Path, target: S3Target) -> list[str]:
    """Upload every file below ``folder`` to the target prefix, keeping relative paths; return the keys."""
    client = boto3.client("s3", endpoint_url=target.endpoint_url, region_name=target.region)
    transfer = TransferConfig(multipart_threshold=target.multipart_threshold, multipart_chunksize=target.multipart_chunk)
    extra = {}
    if target.sse:
        extra["ServerSideEncryption"] = target.sse
    if target.kms_key_id:
        extra["SSEKMSKeyId"] = target.kms_key_id
    keys = []
    for path in sorted(item for item in folder.rglob("*") if item.is_file()):
        key = "/".join(part for part in (target.prefix, path.relative_to(folder).as_posix()) if part)
        try:
            client.upload_file(str(path), target.bucket, key, ExtraArgs=extra or None, Config=transfer)
        except Exception as error:  # boto3 raises several unrelated types (ClientError, S3UploadFailedError, ...)
            raise MeterhouseError(f"upload of {path.name} to s3://{target.bucket}/{key} failed: {error}") from error
        log.debug("uploaded s3://%s/%s", target.bucket, key)
        keys.append(key)
    return keys
