"""Share links as the service keeps them (core/shares.py): tokens stored only as hashes, rotation with a grace
period, expiry, revocation, passwords, allowed origins, workspace isolation and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from core import shares
from core.models import AuditEvent, Share, SlackWorkspace, utcnow
from core.subscriptions import demo_connection


async def _connection(db, workspace_id=None):
    async with db.transaction() as session:
        return await demo_connection(session, workspace_id)


async def _make(db, **options) -> shares.NewToken:
    connection = await _connection(db)
    async with db.transaction() as session:
        return await shares.create_share(session, connection=await session.merge(connection),
                                         content_type="dashboard", content_ref="42", title="Product", **options)


async def _find(db, token, now=None):
    async with db.session() as session:
        return await shares.find_by_token(session, token, now=now)


async def test_a_token_has_256_random_bits_and_only_its_hash_is_stored(db):
    made = await _make(db)
    assert len(made.token) >= 43 and shares.looks_like_token(made.token)
    async with db.session() as session:
        stored = [tuple(r) for r in (await session.execute(text("SELECT * FROM shares"))).all()]
    assert made.token not in str(stored) and shares.hash_token(made.token) in str(stored)
    assert (await _find(db, made.token)).id == made.share.id
    assert await _find(db, made.token[:-1] + ("A" if made.token[-1] != "A" else "B")) is None
    assert await _find(db, "not a token <script>") is None


async def test_revoked_and_expired_links_open_nothing(db):
    made = await _make(db, expires_at=utcnow() + timedelta(hours=1))
    assert await _find(db, made.token) is not None
    assert await _find(db, made.token, now=utcnow() + timedelta(hours=2)) is None  # expired
    async with db.transaction() as session:
        share = await session.get(Share, made.share.id)
        assert shares.revoke(share) is True and shares.revoke(share) is False
    assert await _find(db, made.token) is None
    with pytest.raises(shares.ShareError, match="past"):
        await _make(db, expires_at=utcnow() - timedelta(seconds=1))


async def test_a_rotated_token_keeps_working_for_the_grace_period_only(db):
    made = await _make(db)
    now = utcnow()
    async with db.transaction() as session:
        rotated = shares.rotate(await session.get(Share, made.share.id), grace_seconds=600, now=now)
    assert rotated.token != made.token
    assert (await _find(db, rotated.token, now=now)).id == made.share.id
    assert (await _find(db, made.token, now=now + timedelta(seconds=599))).id == made.share.id
    assert await _find(db, made.token, now=now + timedelta(seconds=601)) is None
    assert (await _find(db, rotated.token, now=now + timedelta(days=30))) is not None
    # A second rotation replaces the old token: only the one just replaced still works.
    async with db.transaction() as session:
        third = shares.rotate(await session.get(Share, made.share.id), grace_seconds=600, now=now)
    assert await _find(db, made.token, now=now) is None
    assert await _find(db, rotated.token, now=now) is not None and await _find(db, third.token, now=now) is not None
    async with db.transaction() as session:
        share = await session.get(Share, made.share.id)
        shares.revoke(share)
        with pytest.raises(shares.ShareError, match="revoked"):
            shares.rotate(share, grace_seconds=600)
    assert await _find(db, rotated.token, now=now) is None  # revoking ends the grace too


async def test_a_password_is_kept_salted_and_checked(db):
    one, two = await _make(db, password="s3cret pass"), await _make(db, password="s3cret pass")
    assert one.share.password_hash != two.share.password_hash  # salted
    assert "s3cret" not in one.share.password_hash
    assert shares.check_password(one.share, "s3cret pass")
    for wrong in ("s3cret", "", "S3CRET PASS", "x" * 1000):
        assert not shares.check_password(one.share, wrong)
    assert shares.check_password((await _make(db)).share, "anything")  # no password: open


def test_allowed_origins_are_plain_origins_only():
    assert shares.normalize_origins(["https://intranet.acme.com/", "http://127.0.0.1:8080",
                                     "https://intranet.acme.com"]) == [
        "https://intranet.acme.com", "http://127.0.0.1:8080"]
    for bad in ("intranet.acme.com", "https://acme.com/path", "https://acme.com; script-src *", "javascript:x",
                "https://a b.com", "https://acme.com:99999", "https://user@acme.com"):
        with pytest.raises(shares.ShareError, match="not an origin"):
            shares.normalize_origins([bad])


async def test_a_workspace_sees_only_its_own_shares(db):
    async with db.transaction() as session:
        workspace = SlackWorkspace(team_id="T1", name="Acme")
        session.add(workspace)
    connection = await _connection(db, workspace.id)
    async with db.transaction() as session:
        theirs = await shares.create_share(session, connection=await session.merge(connection),
                                           content_type="insight", content_ref="abc123")
    mine = await _make(db)
    async with db.session() as session:
        assert theirs.share.workspace_id == workspace.id
        assert await shares.find_share(session, None, theirs.share.id) is None
        assert (await shares.find_share(session, workspace.id, theirs.share.id)).id == theirs.share.id
        assert [s.id for s in await shares.shares_of(session, None)] == [mine.share.id]


async def test_making_rotating_and_revoking_is_audited_without_secrets(db):
    made = await _make(db, password="pw-123456")
    async with db.transaction() as session:
        share = await session.get(Share, made.share.id)
        rotated = shares.rotate(share, grace_seconds=60)
    async with db.transaction() as session:
        shares.revoke(await session.get(Share, made.share.id))
    async with db.session() as session:
        events = list((await session.scalars(select(AuditEvent).where(AuditEvent.object_type == "share")
                                             .order_by(AuditEvent.id))).all())
    assert [e.action for e in events] == ["created", "changed", "revoked"]
    everything = str([e.changes for e in events])
    for secret in (made.token, rotated.token, shares.hash_token(made.token), shares.hash_token(rotated.token),
                   made.share.password_hash):
        assert secret not in everything
    assert events[0].changes["token_hash"] == [None, "(set)"]


async def test_a_removed_workspace_takes_its_share_links_with_it(db):
    async with db.transaction() as session:
        workspace = SlackWorkspace(team_id="T9", name="Gone")
        session.add(workspace)
    connection = await _connection(db, workspace.id)
    async with db.transaction() as session:
        made = await shares.create_share(session, connection=await session.merge(connection),
                                         content_type="dashboard", content_ref="42")
    async with db.transaction() as session:
        await session.delete(await session.get(SlackWorkspace, workspace.id))
    assert await _find(db, made.token) is None
    async with db.session() as session:
        assert await session.get(Share, made.share.id) is None
