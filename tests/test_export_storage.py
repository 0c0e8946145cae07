"""Where exported files live and how people download them: the local folder behind our signed links, S3 (moto's
server over real HTTP) behind presigned URLs, and the housekeeping that deletes both when they expire."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import aiohttp
import boto3
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from core.models import ExportedAsset
from core.settings import Settings
from core.tokens import UNDO, sign, unsubscribe_token
from exports.expiry import delete_expired
from exports.links import PURPOSE, download_token, download_url, parse_download_token, read_download_token
from exports.routes import add_routes
from exports.storage import (
    MAX_PRESIGNED_SECONDS,
    LocalStorage,
    S3Storage,
    StorageKeyError,
    content_disposition,
    make_storage,
)

AWS_SECRET = "moto-test-secret"
PUBLIC_URL = "https://exports.example.com"
T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


def make_settings(tmp_path: Path, **overrides) -> Settings:
    values = {"var_dir": tmp_path / "var", "export_dir": tmp_path / "exports", "public_url": PUBLIC_URL,
              "secret_key": "test-secret-key"}
    return Settings(**{**values, **overrides})


class Clock:
    """The route's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def source_file(tmp_path: Path, data: bytes, name: str = "source.part") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


async def add_asset(db, key: str | None, *, expires_at: datetime | None, status: str = "ready",
                    export_format: str = "csv", size: int | None = None) -> int:
    async with db.transaction() as session:
        asset = ExportedAsset(content_type="insight", content_ref="7", format=export_format, status=status,
                              storage_key=key, filename=key.rsplit("/", 1)[-1] if key else None,
                              size_bytes=size, expires_at=expires_at)
        session.add(asset)
        await session.flush()
        return asset.id


async def asset_ids(db) -> set[int]:
    async with db.session() as session:
        return set((await session.execute(select(ExportedAsset.id))).scalars())


def path_of(url: str) -> str:
    """The part of one of our links that the test server answers (the public host is not ours in tests)."""
    assert url.startswith(f"{PUBLIC_URL}/exports/download/")
    return url[len(PUBLIC_URL):]


def filename_from(disposition: str) -> str:
    """The file name a browser takes from Content-Disposition: `filename*` (RFC 5987) wins over `filename`."""
    params = dict(part.strip().split("=", 1) for part in disposition.split(";")[1:])
    if "filename*" in params:
        charset, _, encoded = params["filename*"].split("'", 2)
        assert charset.upper() == "UTF-8"
        return unquote(encoded, encoding="utf-8")
    return params["filename"].strip('"')


# --- signed links ---------------------------------------------------------------------------------------


def test_a_token_names_one_file_until_it_expires(tmp_path) -> None:
    settings = make_settings(tmp_path)
    token = download_token(12, "12-ab/report.csv", T0 + timedelta(hours=1), settings)
    assert read_download_token(token, settings, T0) == (12, "12-ab/report.csv")
    assert read_download_token(token, settings, T0 + timedelta(minutes=59, seconds=59)) == (12, "12-ab/report.csv")
    assert read_download_token(token, settings, T0 + timedelta(hours=1)) is None
    assert parse_download_token(token, settings).expires_at == T0 + timedelta(hours=1)
    # Without an asset id (the Storage interface knows keys only), and with seconds since the epoch.
    keyed = download_token(None, "x/y.pdf", T0.timestamp() + 60, settings)
    assert read_download_token(keyed, settings, T0) == (None, "x/y.pdf")
    assert download_url(3, "k/a.csv", T0, settings).startswith(f"{PUBLIC_URL}/exports/download/")
    # The name to save the file under travels signed too, with any line break taken out.
    named = download_token(4, "4-a/x.csv", T0, settings, filename="März\r\n.csv")
    assert parse_download_token(named, settings).filename == "März.csv"
    assert parse_download_token(token, settings).filename is None


def test_tampered_foreign_and_junk_tokens_read_as_nothing(tmp_path) -> None:
    settings = make_settings(tmp_path)
    token = download_token(12, "12-ab/report.csv", T0 + timedelta(hours=1), settings)
    payload, mac = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    other_key = make_settings(tmp_path, secret_key="another-secret")
    undo_purpose = sign(UNDO, "12\n12-ab/report.csv\n9999999999\n", settings=settings)
    for bad in [f"{flipped}.{mac}", f"{payload}.{mac[:-1]}", token + "=", "", ".", "a.b.c", "x" * 5000,
                download_token(12, "12-ab/report.csv", T0 + timedelta(hours=1), other_key), undo_purpose,
                unsubscribe_token(12, "a@example.com", settings=settings),
                sign(PURPOSE, "12\n12-ab/report.csv\nsoon\n", settings=settings),
                sign(PURPOSE, "twelve\nk\n9999999999\n", settings=settings),
                sign(PURPOSE, "12\n\n9999999999\n", settings=settings),
                sign(PURPOSE, "12\nk\n9999999999", settings=settings),
                sign(PURPOSE, "12\nk\n99999999999999999999\n", settings=settings), None, 12]:
        assert read_download_token(bad, settings, T0) is None, bad
    with pytest.raises(ValueError):
        download_token(1, "two\nkeys", T0, settings)


def test_content_disposition_names_any_file_safely() -> None:
    assert content_disposition("insight-7-signups.csv") == 'attachment; filename="insight-7-signups.csv"'
    for name in ["Umsätze März 2024.xlsx", "报表.csv", "emoji 📈.pdf", 'quote " and \\ back.csv', "50% off.csv"]:
        header = content_disposition(name)
        assert header.startswith("attachment; filename=")
        assert header.isascii() and '\\' not in header and header.count('"') == 2
        assert filename_from(header) == name.replace("\\", "_")
    assert "\n" not in content_disposition("two\r\nlines.csv")
    assert filename_from(content_disposition("../../etc/passwd")) == ".._.._etc_passwd"


# --- local folder ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["../outside.csv", "a/../../outside.csv", "/etc/passwd", "a//b.csv", "a/./b.csv",
                                 ".", "..", "", "a/b/", "a\\..\\b.csv", "nul\x00byte.csv", "new\nline.csv",
                                 "x" * 513])
async def test_local_keys_that_could_leave_the_folder_are_refused(tmp_path, key) -> None:
    storage = LocalStorage(tmp_path / "exports", make_settings(tmp_path))
    source = source_file(tmp_path, b"secret")
    with pytest.raises(StorageKeyError):
        await storage.put(key, source, content_type="text/csv", filename="x.csv")
    with pytest.raises(StorageKeyError):
        await storage.delete(key)
    with pytest.raises(StorageKeyError):
        await storage.download_url(key, filename="x.csv", expires_in=60)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["source.part"]


async def test_a_symbolic_link_does_not_lead_out_of_the_folder(tmp_path) -> None:
    storage = LocalStorage(tmp_path / "exports", make_settings(tmp_path))
    (tmp_path / "outside").mkdir()
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(StorageKeyError):
        await storage.put("link/x.csv", source_file(tmp_path, b"x"), content_type="text/csv", filename="x.csv")
    assert not (tmp_path / "outside" / "x.csv").exists()


async def test_local_put_copies_and_delete_removes_the_export_folder(tmp_path) -> None:
    storage = LocalStorage(tmp_path / "exports", make_settings(tmp_path))
    source = source_file(tmp_path, b"a,b\n1,2\n")
    await storage.put("5-abc/insight-5.csv", source, content_type="text/csv", filename="insight-5.csv")
    assert source.exists()  # the job still copies it elsewhere after storing it
    assert (tmp_path / "exports" / "5-abc" / "insight-5.csv").read_bytes() == b"a,b\n1,2\n"
    assert await storage.exists("5-abc/insight-5.csv")
    assert storage.local_path("5-abc/insight-5.csv") == tmp_path / "exports" / "5-abc" / "insight-5.csv"
    assert [p.name for p in (tmp_path / "exports" / "5-abc").iterdir()] == ["insight-5.csv"]  # no temporary left
    await storage.delete("5-abc/insight-5.csv")
    await storage.delete("5-abc/insight-5.csv")  # already gone: fine
    assert not await storage.exists("5-abc/insight-5.csv")
    assert list((tmp_path / "exports").iterdir()) == []


@pytest.fixture
async def local_site(db, tmp_path):
    settings = make_settings(tmp_path)
    storage = LocalStorage(settings.export_dir, settings)
    clock = Clock(datetime.now(UTC))
    app = web.Application()
    add_routes(app, db, storage, settings, clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        yield client, storage, settings, clock


async def test_a_signed_link_downloads_the_file_with_its_name(db, tmp_path, local_site) -> None:
    client, storage, settings, clock = local_site
    data = "Woche,Umsatz\nKW 1,1.234 €\n".encode() * 1000
    key = "9-f00d/Umsätze März.csv"
    await storage.put(key, source_file(tmp_path, data), content_type="text/csv", filename="Umsätze März.csv")
    asset_id = await add_asset(db, key, expires_at=clock.now + timedelta(days=7), size=len(data))

    for url in [await storage.download_url(key, filename="Umsätze März.csv", expires_in=3600),
                download_url(asset_id, key, clock.now + timedelta(hours=1), settings)]:
        response = await client.get(path_of(url))
        assert response.status == 200
        assert await response.read() == data
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert filename_from(response.headers["Content-Disposition"]) == "Umsätze März.csv"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["Referrer-Policy"] == "no-referrer"

    xlsx = "10-beef/dashboard-3.xlsx"
    await storage.put(xlsx, source_file(tmp_path, b"PK\x03\x04", "b.part"), content_type="x", filename="d.xlsx")
    await add_asset(db, xlsx, expires_at=clock.now + timedelta(days=7), export_format="xlsx")
    response = await client.get(path_of(await storage.download_url(xlsx, filename="d.xlsx", expires_in=60)))
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == 'attachment; filename="d.xlsx"'
    response = await client.get(path_of(download_url(None, xlsx, clock.now + timedelta(minutes=1), settings)))
    assert response.headers["Content-Disposition"] == 'attachment; filename="dashboard-3.xlsx"'


async def test_tampered_and_foreign_links_are_400_and_nothing_leaks(db, tmp_path, local_site) -> None:
    client, storage, settings, clock = local_site
    key = "4-aaaa/insight-4.csv"
    await storage.put(key, source_file(tmp_path, b"x"), content_type="text/csv", filename="insight-4.csv")
    await add_asset(db, key, expires_at=clock.now + timedelta(days=1))
    token = download_token(None, key, clock.now + timedelta(hours=1), settings)
    payload, mac = token.split(".")
    other = make_settings(tmp_path, secret_key="not-our-key")
    for bad in [f"{payload}.{mac[::-1]}", f"{payload[1:]}.{mac}", "garbage", "a.b",
                download_token(None, key, clock.now + timedelta(hours=1), other),
                unsubscribe_token(4, "a@example.com", settings=settings), "%00", "..%2f..%2fetc%2fpasswd"]:
        response = await client.get(f"/exports/download/{bad}")
        assert response.status == 400, bad
        assert "This download link is not valid." in await response.text()
        assert response.headers["Cache-Control"] == "private, no-store"
    # A genuine token for a key outside the folder names nothing we stored.
    escape = download_token(None, "../../etc/passwd", clock.now + timedelta(hours=1), settings)
    assert (await client.get(f"/exports/download/{escape}")).status == 410
    for path in ["/exports/download/", "/exports/download/../../etc/passwd", "/exports/", "/exports/download/a/b",
                 "/exports/download/%2e%2e%2f%2e%2e%2fetc%2fpasswd"]:
        response = await client.get(path)
        assert response.status in (400, 404), path
        assert "root:" not in await response.text()


async def test_expired_links_and_gone_exports_are_410(db, tmp_path, local_site) -> None:
    client, storage, settings, clock = local_site
    start = clock.now
    key = "11-cafe/persons.csv"
    await storage.put(key, source_file(tmp_path, b"id\n1\n"), content_type="text/csv", filename="persons.csv")
    asset_id = await add_asset(db, key, expires_at=start + timedelta(days=7))
    link = path_of(download_url(asset_id, key, start + timedelta(hours=1), settings))
    assert (await client.get(link)).status == 200

    clock.now = start + timedelta(hours=1, seconds=1)  # the token's own expiry
    response = await client.get(link)
    assert response.status == 410 and "This download link has expired." in await response.text()
    clock.now = start
    # Storage.download_url links expire after expires_in seconds of the real clock.
    short = path_of(await storage.download_url(key, filename="persons.csv", expires_in=60))
    assert (await client.get(short)).status == 200
    clock.now = datetime.now(UTC) + timedelta(seconds=61)
    assert (await client.get(short)).status == 410
    clock.now = start

    # The export outlived by its link, one that is not ready, a file that is gone, a row that is gone.
    long_link = path_of(download_url(asset_id, key, start + timedelta(days=30), settings))
    clock.now = start + timedelta(days=8)
    assert (await client.get(long_link)).status == 410
    clock.now = start
    failed = await add_asset(db, key, expires_at=start + timedelta(days=7), status="failed")
    assert (await client.get(path_of(download_url(failed, key, start + timedelta(hours=1), settings)))).status == 410
    await storage.delete(key)
    assert (await client.get(link)).status == 410
    await storage.put(key, source_file(tmp_path, b"id\n1\n"), content_type="text/csv", filename="persons.csv")
    assert (await client.get(link)).status == 200
    # Another export's id does not unlock this key.
    other = await add_asset(db, "12-0000/other.csv", expires_at=start + timedelta(days=7))
    assert (await client.get(path_of(download_url(other, key, start + timedelta(hours=1), settings)))).status == 410
    async with db.transaction() as session:
        await session.delete(await session.get(ExportedAsset, asset_id))
    response = await client.get(link)
    assert response.status == 410 and "This download link has expired." in await response.text()


async def test_delete_expired_removes_local_files_and_rows_and_retries_stuck_ones(db, tmp_path) -> None:
    settings = make_settings(tmp_path)
    storage = LocalStorage(settings.export_dir, settings)
    now = T0
    keys = {name: f"{name}-{uuid.uuid4().hex[:6]}/{name}.csv" for name in ("old", "gone", "stuck", "fresh")}
    for key in (keys["old"], keys["fresh"]):
        await storage.put(key, source_file(tmp_path, b"x"), content_type="text/csv", filename="x.csv")
    # A file the storage cannot delete (a folder where the file should be): an error for that one only.
    (settings.export_dir / keys["stuck"]).mkdir(parents=True)
    (settings.export_dir / keys["stuck"] / "inside").write_text("x")
    old = await add_asset(db, keys["old"], expires_at=now - timedelta(minutes=1))
    gone = await add_asset(db, keys["gone"], expires_at=now - timedelta(days=3))
    stuck = await add_asset(db, keys["stuck"], expires_at=now - timedelta(hours=2))
    fresh = await add_asset(db, keys["fresh"], expires_at=now + timedelta(minutes=1))
    never = await add_asset(db, None, expires_at=None, status="running")
    no_file = await add_asset(db, None, expires_at=now - timedelta(hours=1), status="failed")

    assert await delete_expired(db, storage, now) == 3
    assert await asset_ids(db) == {stuck, fresh, never}
    assert not (settings.export_dir / keys["old"]).parent.exists()
    assert await storage.exists(keys["fresh"])
    assert {old, gone, no_file}.isdisjoint(await asset_ids(db))

    (settings.export_dir / keys["stuck"] / "inside").unlink()
    (settings.export_dir / keys["stuck"]).rmdir()
    assert await delete_expired(db, storage, now) == 1
    assert await delete_expired(db, storage, now + timedelta(minutes=2)) == 1
    assert await asset_ids(db) == {never}
    assert list(settings.export_dir.iterdir()) == []
    assert await delete_expired(db, storage, now + timedelta(days=365)) == 0


def test_make_storage_follows_the_settings(tmp_path) -> None:
    local = make_storage(make_settings(tmp_path))
    assert isinstance(local, LocalStorage) and local.folder == tmp_path / "exports"
    with pytest.raises(ValueError, match="S3_BUCKET"):
        make_storage(make_settings(tmp_path, export_storage="s3", s3_bucket=""))
    with pytest.raises(ValueError, match="S3_SERVER_SIDE_ENCRYPTION"):
        make_storage(make_settings(tmp_path, export_storage="s3", s3_bucket="b", s3_server_side_encryption="rot13"))


# --- S3 (moto's server over HTTP) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as patch:
        # Dummy credentials, and none of this machine's AWS configuration.
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "moto-test-key")
        patch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        patch.setenv("AWS_CONFIG_FILE", os.devnull)
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3_settings(tmp_path, moto_endpoint) -> Settings:
    bucket = f"exports-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name="eu-west-1", endpoint_url=moto_endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return make_settings(tmp_path, export_storage="s3", s3_bucket=bucket, s3_prefix="team-exports",
                         s3_region="eu-west-1", s3_endpoint_url=moto_endpoint)


def raw_client(settings: Settings):
    return boto3.client("s3", region_name=settings.s3_region, endpoint_url=settings.s3_endpoint_url)


def verify_presigned(url: str, secret: str) -> tuple[datetime, int]:
    """Check a presigned GET URL's SigV4 signature independently of botocore, as S3 does; (signed at, lifetime).

    moto serves presigned URLs without checking their age, so this is how the test knows that S3 would refuse
    the URL after its lifetime: the lifetime is part of what is signed and cannot be edited."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    query = {k: v for k, v in params if k != "X-Amz-Signature"}
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and query["X-Amz-SignedHeaders"] == "host"

    def encode(text: str) -> str:
        return quote(text, safe="-_.~")

    canonical_query = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(query.items()))
    canonical = "\n".join(["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host",
                           "UNSIGNED-PAYLOAD"])
    scope = query["X-Amz-Credential"].split("/", 1)[1]
    day, region, service, _ = scope.split("/")
    to_sign = "\n".join(["AWS4-HMAC-SHA256", query["X-Amz-Date"], scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest() == dict(params)["X-Amz-Signature"]
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed_at, int(query["X-Amz-Expires"])


@pytest.mark.parametrize("encryption", ["AES256", "aws:kms"])
async def test_s3_round_trip_encrypted_with_an_attachment_name(tmp_path, s3_settings, encryption) -> None:
    settings = s3_settings.model_copy(update={"s3_server_side_encryption": encryption})
    storage = make_storage(settings)
    assert isinstance(storage, S3Storage) and storage.local_path("a/b.csv") is None
    data = os.urandom(200_000)
    key = "21-abcd/Ventes été 2024.xlsx"
    await storage.put(key, source_file(tmp_path, data), content_type="application/vnd.ms-excel",
                      filename="Ventes été 2024.xlsx")
    assert await storage.exists(key) and not await storage.exists("21-abcd/other.xlsx")

    head = raw_client(settings).head_object(Bucket=settings.s3_bucket, Key=f"team-exports/{key}")
    assert head["ServerSideEncryption"] == encryption
    assert head["ContentType"] == "application/vnd.ms-excel"
    assert filename_from(head["ContentDisposition"]) == "Ventes été 2024.xlsx"

    url = await storage.download_url(key, filename="Ventes été 2024.xlsx", expires_in=600)
    assert url.startswith(f"{settings.s3_endpoint_url}/{settings.s3_bucket}/team-exports/21-abcd/")
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert await response.read() == data
        assert filename_from(response.headers["Content-Disposition"]) == "Ventes été 2024.xlsx"
        assert response.headers["Content-Disposition"].startswith("attachment;")

    await storage.delete(key)
    await storage.delete(key)  # already gone: fine
    assert not await storage.exists(key)
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status in (403, 404)  # S3 says 403 for a missing key to whoever may not list the bucket


async def test_s3_presigned_urls_are_signed_with_their_lifetime(tmp_path, s3_settings) -> None:
    storage = make_storage(s3_settings)
    await storage.put("1-a/x.csv", source_file(tmp_path, b"x"), content_type="text/csv", filename="x.csv")
    before = datetime.now(UTC).replace(microsecond=0)
    url = await storage.download_url("1-a/x.csv", filename="x.csv", expires_in=90)
    signed_at, lifetime = verify_presigned(url, AWS_SECRET)
    assert lifetime == 90 and before - timedelta(seconds=1) <= signed_at <= datetime.now(UTC)
    # An edited lifetime no longer matches the signature.
    with pytest.raises(AssertionError):
        verify_presigned(url.replace("X-Amz-Expires=90", "X-Amz-Expires=604800"), AWS_SECRET)
    # SigV4 allows 7 days at most; a longer request is shortened rather than refused by S3 later.
    _, longest = verify_presigned(await storage.download_url("1-a/x.csv", filename="x.csv",
                                                             expires_in=30 * 86400), AWS_SECRET)
    assert longest == MAX_PRESIGNED_SECONDS
    _, shortest = verify_presigned(await storage.download_url("1-a/x.csv", filename="x.csv", expires_in=0),
                                   AWS_SECRET)
    assert shortest == 1


async def test_our_link_to_an_s3_export_redirects_to_a_short_presigned_url(db, tmp_path, s3_settings) -> None:
    storage = make_storage(s3_settings)
    key = "31-beef/dashboard-3.pdf"
    await storage.put(key, source_file(tmp_path, b"%PDF-1.7"), content_type="application/pdf",
                      filename="dashboard-3.pdf")
    now = datetime.now(UTC)
    asset_id = await add_asset(db, key, expires_at=now + timedelta(days=7), export_format="pdf")
    app = web.Application()
    add_routes(app, db, storage, s3_settings, clock=lambda: now)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        link = path_of(download_url(asset_id, key, now + timedelta(hours=1), s3_settings))
        response = await client.get(link, allow_redirects=False)
        assert response.status == 302 and response.headers["Cache-Control"] == "private, no-store"
        location = response.headers["Location"]
        assert verify_presigned(location, AWS_SECRET)[1] == 300
    async with aiohttp.ClientSession() as session, session.get(location) as download:
        assert download.status == 200 and await download.read() == b"%PDF-1.7"
        assert filename_from(download.headers["Content-Disposition"]) == "dashboard-3.pdf"


async def test_delete_expired_removes_s3_objects_and_rows(db, tmp_path, s3_settings) -> None:
    storage = make_storage(s3_settings)
    now = T0
    for key in ("1-old/a.csv", "2-new/b.csv"):
        await storage.put(key, source_file(tmp_path, b"x"), content_type="text/csv", filename="x.csv")
    old = await add_asset(db, "1-old/a.csv", expires_at=now - timedelta(seconds=1))
    gone = await add_asset(db, "3-gone/c.csv", expires_at=now - timedelta(days=1))  # never uploaded
    new = await add_asset(db, "2-new/b.csv", expires_at=now + timedelta(hours=1))

    assert await delete_expired(db, storage, now) == 2
    assert await asset_ids(db) == {new}
    assert not await storage.exists("1-old/a.csv") and await storage.exists("2-new/b.csv")
    assert {old, gone}.isdisjoint(await asset_ids(db))

    # A storage that cannot reach its bucket deletes nothing and keeps every row for the next run.
    broken = make_storage(s3_settings.model_copy(update={"s3_bucket": f"missing-{uuid.uuid4().hex[:8]}"}))
    assert await delete_expired(db, broken, now + timedelta(hours=2)) == 0
    assert await asset_ids(db) == {new}
    assert await delete_expired(db, storage, now + timedelta(hours=2)) == 1
    assert await asset_ids(db) == set()
    listing = raw_client(s3_settings).list_objects_v2(Bucket=s3_settings.s3_bucket)
    assert listing.get("KeyCount", 0) == 0
