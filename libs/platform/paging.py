"""Opaque page tokens: a dynasty.common.v1.PageCursor, URL-safe base64. Tampered tokens are INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import binascii

from google.protobuf.message import DecodeError

from libs.domain.errors import InvalidArgument


def encode_page_token(after_key: str | None, filter_fingerprint: str = "") -> str:
    from dynasty.common.v1 import paging_pb2

    if after_key is None:
        return ""
    raw = paging_pb2.PageCursor(after_key=after_key, filter_fingerprint=filter_fingerprint).SerializeToString()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, filter_fingerprint: str = "") -> str | None:
    from dynasty.common.v1 import paging_pb2

    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor = paging_pb2.PageCursor.FromString(raw)
    except (binascii.Error, ValueError, DecodeError):
        raise InvalidArgument("page_token is not a token this service issued", field="page_token") from None
    if not cursor.after_key or cursor.filter_fingerprint != filter_fingerprint:
        raise InvalidArgument("page_token does not belong to this query", field="page_token")
    return cursor.after_key
