"""Where exported files are kept until they expire: a local folder (one machine) or S3 (any number of them).

Both hand out download links that stop working: the local folder through our own server's signed links
(`exports.links`, served by `exports.routes`), S3 through presigned GET URLs. Keys are relative names chosen by
the export job (`<asset id>-<random>/<file name>`); a key that could escape the folder is refused, on both
backends, so that the same key means the same thing wherever it is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import quote

from core.settings import Settings

from .links import download_url as signed_download_url

MAX_KEY_LENGTH = 512  # exported_assets.storage_key
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live
SERVER_SIDE_ENCRYPTIONS = ("AES256", "aws:kms", "")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StorageKeyError(ValueError):
    """A key that is not a plain relative name (absolute, `..`, empty segments, control characters)."""


def check_key(key: str) -> str:
    """The key itself when it is a safe relative name, else StorageKeyError."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise StorageKeyError("a storage key is a non-empty name of at most 512 characters")
    if _CONTROL.search(key) or "\\" in key:
        raise StorageKeyError(f"storage key {key!r} contains a control character or a backslash")
    if key.startswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise StorageKeyError(f"storage key {key!r} must be a relative name without '.', '..' or empty parts")
    return key


def content_disposition(filename: str) -> str:
    """`attachment` with the file name as every browser reads it (RFC 6266): a plain ASCII `filename` for old
    clients, and RFC 5987's `filename*` with the exact UTF-8 name when the name is not plain ASCII."""
    name = _CONTROL.sub("", filename or "").replace("/", "_").replace("\\", "_").strip() or "download"
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = re.sub(r"[^A-Za-z0-9 ._()\[\]+@!#$&{}~-]", "_", fallback).strip() or "download"
    if fallback == name:
        return f'attachment; filename="{name}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@runtime_checkable
class Storage(Protocol):
    """What export jobs, announcements, the download route and housekeeping need of a place to keep files."""

    async def put(self, key: str, path: Path, *, content_type: str, filename: str) -> None:
        """Store the file at `path` (left in place) under `key`."""

    async def download_url(self, key: str, *, filename: str, expires_in: int) -> str:
        """A link that downloads the file as `filename` and stops working after `expires_in` seconds."""

    async def delete(self, key: str) -> None:
        """Remove the file; a file already gone is not an error."""

    async def exists(self, key: str) -> bool: ...

    def local_path(self, key: str) -> Path | None:
        """The file on this machine's disk (local storage), or None (remote storage)."""


class LocalStorage:
    """Files in a folder (EXPORT_DIR), served by this service's `/exports/download/<token>` route.

    Only for one machine, or for machines sharing that folder: another process can serve a link only if it
    sees the file."""

    def __init__(self, folder: Path | str, settings: Settings) -> None:
        self.folder = Path(folder)
        self.settings = settings

    def _path(self, key: str) -> Path:
        path = self.folder / check_key(key)
        # A symbolic link inside the folder must not lead out of it either.
        root = self.folder.resolve()
        if not path.resolve().is_relative_to(root):
            raise StorageKeyError(f"storage key {key!r} leads outside the export folder")
        return path

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def put(self, key: str, path: Path, *, content_type: str, filename: str) -> None:
        target = self._path(key)
        await asyncio.to_thread(_copy_atomically, Path(path), target)

    async def download_url(self, key: str, *, filename: str, expires_in: int) -> str:
        # The Storage interface does not know asset ids: the route finds the export by its key.
        return signed_download_url(None, check_key(key), time.time() + max(int(expires_in), 1), self.settings,
                                   filename=filename)

    async def delete(self, key: str) -> None:
        target = self._path(key)
        await asyncio.to_thread(_remove, target, self.folder)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)


def _copy_atomically(source: Path, target: Path) -> None:
    # Written beside the target, then renamed: a download never sees half a file.
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, 1024 * 1024)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _remove(target: Path, folder: Path) -> None:
    target.unlink(missing_ok=True)
    # Each export has a folder of its own: remove the ones left empty, never the export folder itself.
    parent, root = target.parent, folder.resolve()
    while parent.resolve() != root and parent.resolve().is_relative_to(root):
        try:
            parent.rmdir()
        except OSError:  # not empty (or already gone): stop there
            break
        parent = parent.parent


class S3Storage:
    """Files in an S3 bucket (or an S3-compatible store), downloaded straight from it with presigned URLs.

    boto3 is blocking, so every call runs in a worker thread. Presigned URLs are SigV4: their lifetime is part
    of the signature, and S3 refuses them after it (at most 7 days)."""

    def __init__(self, settings: Settings, *, client=None) -> None:
        if not settings.s3_bucket:
            raise ValueError("EXPORT_STORAGE=s3 needs S3_BUCKET: the bucket exported files are kept in.")
        if settings.s3_server_side_encryption not in SERVER_SIDE_ENCRYPTIONS:
            raise ValueError(
                f"S3_SERVER_SIDE_ENCRYPTION is {settings.s3_server_side_encryption!r}; use AES256, aws:kms or "
                "leave it empty."
            )
        self.bucket = settings.s3_bucket
        prefix = settings.s3_prefix.lstrip("/")
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.server_side_encryption = settings.s3_server_side_encryption
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                region_name=settings.s3_region or None,
                endpoint_url=settings.s3_endpoint_url or None,
                config=Config(signature_version="s3v4", retries={"mode": "standard", "max_attempts": 5}),
            )
        self.client = client

    def object_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def local_path(self, key: str) -> Path | None:
        return None

    async def put(self, key: str, path: Path, *, content_type: str, filename: str) -> None:
        extra = {"ContentType": content_type, "ContentDisposition": content_disposition(filename)}
        if self.server_side_encryption:
            extra["ServerSideEncryption"] = self.server_side_encryption
        # upload_file switches to a multipart upload for large files.
        await asyncio.to_thread(self.client.upload_file, str(path), self.bucket, self.object_key(key),
                                ExtraArgs=extra)

    async def download_url(self, key: str, *, filename: str, expires_in: int) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": self.object_key(key),
            # Names the download even if the object was stored under another name.
            "ResponseContentDisposition": content_disposition(filename),
        }
        seconds = min(max(int(expires_in), 1), MAX_PRESIGNED_SECONDS)
        return await asyncio.to_thread(
            self.client.generate_presigned_url, "get_object", Params=params, ExpiresIn=seconds, HttpMethod="GET"
        )

    async def delete(self, key: str) -> None:
        # S3 answers a delete of a missing key with success, which is what "already gone is fine" needs.
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self.object_key(key))

    async def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def make_storage(settings: Settings) -> Storage:
    """The storage EXPORT_STORAGE names."""
    if settings.export_storage == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.export_dir, settings)
