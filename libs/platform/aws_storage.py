"""The object-storage port's S3 adapter (production): the same `put(key, data, content_type)` / `get(key)` as
libs/platform/object_storage.py's local folder.

Every put asks for SSE-KMS under our key (ServerSideEncryption="aws:kms", SSEKMSKeyId), so S3 keeps objects
encrypted even if the bucket default were changed. That is the second layer (ADR 0039): callers storing personal
data hand us an envelope already sealed by libs/platform/crypto.py, so a bucket copy or a loose bucket policy
reveals nothing without identity's master key. Keys follow the local adapter's rule (plain "/"-separated names) so
a key that works in the devstack works here and vice versa. boto3 calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import re

from botocore.exceptions import ClientError

from libs.platform.object_storage import ObjectNotFound

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def _checked_key(key: str) -> str:
    if any(not _SEGMENT.fullmatch(segment) for segment in key.split("/")):
        raise ValueError(f"object key {key!r} is not a plain /-separated name")
    return key


class S3ObjectStorage:
    def __init__(self, s3_client, bucket: str, *, kms_key_id: str | None) -> None:
        self._s3 = s3_client  # a boto3 "s3" client
        self._bucket = bucket
        self._kms_key_id = kms_key_id

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        request = {
            "Bucket": self._bucket,
            "Key": _checked_key(key),
            "Body": data,
            "ContentType": content_type,
            "ServerSideEncryption": "aws:kms",
        }
        if self._kms_key_id:
            request["SSEKMSKeyId"] = self._kms_key_id
        await asyncio.to_thread(lambda: self._s3.put_object(**request))

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, _checked_key(key))

    def _read(self, key: str) -> bytes:
        try:
            answer = self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectNotFound(key) from None
            raise
        with answer["Body"] as body:
            return body.read()
