"""`/shares`: share links over HTTP (make, list, get, rotate, revoke), through the same service as Slack and the
command line (core/shares.py). The token is in the answer to a make or a rotation only; only its hash is kept."""

from __future__ import annotations

from core import shares as service
from core.models import Share as ShareRow

from . import schemas
from .pipeline import Call
from .problems import ApiProblem, field_problem, not_found
from .registry import Link, Operation, Outcome, Registry, Reply
from .subscriptions import choose_connection, content_title

BY_ID = {"share_id": "$response.body#/id"}


def share_out(row: ShareRow) -> schemas.Share:
    return schemas.Share(
        id=row.id, connection_id=row.connection_id, content_type=row.content_type, content_ref=row.content_ref,
        title=row.title, state=service.state(row), has_password=row.password_hash is not None,
        allowed_origins=list(row.allowed_origins or []), expires_at=row.expires_at, revoked_at=row.revoked_at,
        previous_token_valid_until=row.previous_valid_until if row.revoked_at is None else None,
        created_at=row.created_at,
    )


def with_links(call: Call, made: service.NewToken) -> schemas.ShareWithLinks:
    links = service.links(call.settings.public_url, made.token)
    return schemas.ShareWithLinks(
        **share_out(made.share).model_dump(), token=made.token, url=links.shared, embed_url=links.embedded,
        json_url=links.json, embed_code=links.iframe(made.share.title),
    )


async def _share(session, call: Call) -> ShareRow:
    found = await service.find_share(session, call.workspace_id, call.path["share_id"])
    if found is None:
        raise not_found(f"Share {call.path['share_id']}")
    return found


async def list_shares(call: Call) -> Reply:
    query: schemas.ShareQuery = call.query
    try:
        after = schemas.decode_cursor(query.cursor)
    except ValueError:
        raise field_problem(422, "query.cursor", "This cursor was not given by this API; start without one.") from None
    async with call.database.session() as session:
        rows = await service.shares_of(session, call.workspace_id, include_revoked=query.include_revoked,
                                       after_id=after, limit=query.limit + 1)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return Reply(200, schemas.SharePage(items=[share_out(r) for r in rows],
                                        next_cursor=schemas.encode_cursor(rows[-1].id) if more else None))


async def get_share(call: Call) -> Reply:
    async with call.database.session() as session:
        return Reply(200, share_out(await _share(session, call)), etag=True)


async def create_share(call: Call) -> Reply:
    body: schemas.ShareCreate = call.body
    try:
        origins = service.normalize_origins(body.allowed_origins)
    except service.ShareError as exc:
        raise field_problem(422, "body.allowed_origins", str(exc)) from None
    async with call.database.session() as session:
        connection = await choose_connection(session, call, body.connection_id)
    title = await content_title(connection, body.content_type, body.content_ref, call.settings)
    async with call.database.transaction() as session:
        try:
            made = await service.create_share(
                session, connection=await session.merge(connection), content_type=body.content_type,
                content_ref=body.content_ref, title=title, password=body.password, allowed_origins=origins,
                expires_at=body.expires_at, created_by_slack_user=call.key.created_by_slack_user,
            )
        except service.ShareError as exc:
            where = "body.expires_at" if "expiry" in str(exc) else "body.content_ref"
            raise field_problem(422, where, str(exc)) from None
        await session.refresh(made.share)
        out = with_links(call, made)
    return Reply(201, out, headers={"Location": f"/api/v1/shares/{out.id}"})


async def rotate_share(call: Call) -> Reply:
    async with call.database.transaction() as session:
        row = await _share(session, call)
        try:
            made = service.rotate(row, grace_seconds=call.settings.share_rotation_grace_seconds)
        except service.ShareError as exc:
            raise ApiProblem(409, str(exc)) from None
        await session.flush()
        await session.refresh(row)
        out = with_links(call, made)
    return Reply(200, out)


async def revoke_share(call: Call) -> Reply:
    async with call.database.transaction() as session:
        row = await _share(session, call)
        service.revoke(row)  # already revoked: unchanged
        await session.flush()
        await session.refresh(row)
        out = share_out(row)
    return Reply(200, out, etag=True)


def register(registry: Registry) -> None:
    one = "/shares/{share_id}"
    follow = {
        "GetShare": Link("getShare", BY_ID),
        "RotateShare": Link("rotateShare", BY_ID),
        "RevokeShare": Link("revokeShare", BY_ID),
    }
    tag = "shares"
    etag = {"ETag": "Pass as If-None-Match to get 304 when unchanged."}
    registry.add(Operation(
        "GET", "/shares", "listShares", "List share links", tag, list_shares,
        [Outcome(200, "A page of share links, oldest first (without their tokens).", schemas.SharePage)],
        query=schemas.ShareQuery))
    registry.add(Operation(
        "POST", "/shares", "createShare", "Make a share link", tag, create_share,
        [Outcome(201, "Made: the token and links are given this once.", schemas.ShareWithLinks, links=follow,
                 headers={"Location": "The new share link."})],
        body=schemas.ShareCreate, writes=True, idempotent=True, problems=(503,),
        description="Checks the insight or dashboard in PostHog first. Anyone with the link sees the content (after "
        "the password, when there is one) until it is revoked or expires."))
    registry.add(Operation(
        "GET", one, "getShare", "Get a share link", tag, get_share,
        [Outcome(200, "The share link (without its token).", schemas.Share, headers=etag),
         Outcome(304, "Unchanged since the ETag in If-None-Match.")]))
    registry.add(Operation(
        "POST", one + "/rotate", "rotateShare", "Rotate a share link's token", tag, rotate_share,
        [Outcome(200, "A new token and links; the old token keeps working for SHARE_ROTATION_GRACE_SECONDS.",
                 schemas.ShareWithLinks, links=follow)],
        writes=True, problems=(409,)))
    registry.add(Operation(
        "POST", one + "/revoke", "revokeShare", "Revoke a share link", tag, revoke_share,
        [Outcome(200, "Revoked (or already revoked): the link answers 404 from now on.", schemas.Share,
                 headers=etag)], writes=True))
