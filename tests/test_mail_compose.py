"""Composition: MIME structure, headers, inline images, size limits, digests, escaping, outbox files."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from mail import OutboxTransport, send_failure_notice, send_reports, send_subscribed_notice
from mail.compose import compose_reports
from mail.mime import message_bytes
from tests.test_mail_support import (
    dashboard_report,
    html_of,
    inline_images,
    insight_report,
    mail_settings,
    noise_png,
    text_of,
)


def cids_in(html: str) -> list[str]:
    return re.findall(r'src="cid:([^"]+)"', html)


def reparse(message):
    return message_from_bytes(message.as_bytes(), policy=policy.default)


async def test_insight_report_structure_and_headers() -> None:
    settings = mail_settings()
    composed = await compose_reports([insight_report()], settings)
    message = reparse(composed.message)

    assert message.get_content_type() == "multipart/alternative"
    text_part, related = message.get_payload()
    assert text_part.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    assert [p.get_content_type() for p in related.get_payload()] == ["text/html", "image/png"]

    assert message["To"] == "ada@example.com"
    assert message["From"] == "PostHog Reports <reports@exports.example>"
    assert message["Reply-To"] == "help@exports.example"
    assert message["Message-ID"] == composed.message_id and message["Message-ID"].endswith("@exports.example>")
    assert message["Date"]
    assert "Weekly signups" in message["Subject"]
    assert re.fullmatch(r"<https://exports\.example/unsubscribe/[A-Za-z0-9_\-.]+>", message["List-Unsubscribe"])
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    html = html_of(message)
    assert set(cids_in(html)) == set(inline_images(message))
    assert inline_images(message)[cids_in(html)[0]] == insight_report().images[0].png
    assert "Open in PostHog" in html and "https://us.posthog.com/project/1/insights/ab1" in html
    assert "Signups per week, all sources." in html
    text = text_of(message)
    assert "Weekly signups" in text and "https://us.posthog.com/project/1/insights/ab1" in text
    assert message["List-Unsubscribe"].strip("<>") in text


async def test_list_unsubscribe_stays_one_plain_url_for_long_addresses() -> None:
    address = "someone.with.a.rather.long.name@a-long-subdomain.example.com"
    raw = (await compose_reports([insight_report(123456, address)], mail_settings())).message.as_bytes()
    headers = raw.split(b"\r\n\r\n")[0].decode("ascii")
    assert re.search(r"^List-Unsubscribe: <https://exports\.example/unsubscribe/[A-Za-z0-9_\-.]+>\r$", headers, re.M)
    assert "=?utf-8?" not in headers.split("List-Unsubscribe: ")[1].splitlines()[0]


async def test_html_is_inlined_responsive_and_dark_mode_ready() -> None:
    html = html_of((await compose_reports([insight_report()], mail_settings())).message)
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html  # kept by premailer, not inlined away
    assert "!important" in html
    assert 'style="' in html and "font-size:22px" in html  # CSS inlined onto the elements
    assert 'width="600"' in html and "<!--[if mso]>" in html  # fixed-width table for Outlook
    assert re.search(r'<img[^>]+width="550"', html)


async def test_dashboard_of_nine_tiles_keeps_html_under_gmail_clipping() -> None:
    report = dashboard_report(tiles=9)
    assert all(100_000 <= len(image.png) <= 300_000 for image in report.images)
    message = reparse((await compose_reports([report], mail_settings())).message)
    html = html_of(message)
    assert len(html.encode()) < 102 * 1024
    cids = cids_in(html)
    images = inline_images(message)
    assert len(cids) == 9 and set(cids) == set(images)
    # In layout order: the n-th picture in the HTML is the n-th tile.
    assert [images[cid] for cid in cids] == [image.png for image in report.images]
    assert html.index("Tile 0") < html.index("Tile 8")


async def test_tiles_over_the_cap_are_summed_up_with_a_link() -> None:
    report = dashboard_report(tiles=5, pngs=[noise_png(60, 40, seed=i) for i in range(5)])
    message = (await compose_reports([report], mail_settings(email_max_tiles=3))).message
    html = html_of(message)
    assert len(cids_in(html)) == 3
    assert "And 2 more tiles" in html and report.posthog_url in html
    assert "and 2 more tiles" in text_of(message)


async def test_images_past_the_size_limit_become_links_and_the_email_says_so() -> None:
    report = dashboard_report(tiles=4)
    # Room for two of the four ~250 KB images besides the headroom kept for the HTML and text.
    composed = await compose_reports([report], mail_settings(email_max_bytes=256_000 + 720_000))
    message = reparse(composed.message)
    html = html_of(message)
    assert composed.linked_images == 2
    assert len(inline_images(message)) == 2 and len(cids_in(html)) == 2
    assert "reached its size limit" in html and "2 charts are linked" in html
    assert f"{report.posthog_url}?tile=3" in html  # the tile's own link replaces its picture
    assert "reached its size limit" in text_of(message)
    assert len(message.as_bytes()) <= 256_000 + 720_000


async def test_user_text_is_escaped() -> None:
    report = insight_report(title="<script>alert(1)</script> & co")
    report.content.description = '<img src=x onerror="alert(2)">'
    report.posthog_url = "javascript:alert(3)"
    html = html_of((await compose_reports([report], mail_settings())).message)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html
    assert "javascript:" not in html


async def test_digest_two_reports_for_one_recipient_make_one_email(tmp_path) -> None:
    outbox = OutboxTransport(tmp_path)
    reports = [
        insight_report(1, "ada@example.com", png=noise_png(80, 60, seed=1)),
        insight_report(3, "ADA@example.com", png=noise_png(80, 60, seed=3), title="Retention"),
        insight_report(1, "bob@example.com", png=noise_png(80, 60, seed=4)),
    ]
    outcomes = await send_reports(reports, transport=outbox, settings=mail_settings())

    assert [(o.subscription_id, o.recipient, o.status) for o in outcomes] == [
        (1, "ada@example.com", "sent"), (3, "ADA@example.com", "sent"), (1, "bob@example.com", "sent"),
    ]
    files = sorted(tmp_path.glob("*.eml"))
    assert len(files) == 2
    messages = {m["To"]: m for m in (message_from_bytes(f.read_bytes(), policy=policy.default) for f in files)}
    digest = messages["ada@example.com"]
    html = html_of(digest)
    assert "Weekly signups" in html and "Retention" in html and "Your PostHog reports" in html
    assert len(inline_images(digest)) == 2 and set(cids_in(html)) == set(inline_images(digest))
    assert outcomes[0].message_id == outcomes[1].message_id == digest["Message-ID"]
    assert "Retention" not in html_of(messages["bob@example.com"])


async def test_digest_can_be_turned_off(tmp_path) -> None:
    reports = [insight_report(1, png=noise_png(20, 20)), insight_report(3, png=noise_png(20, 20))]
    await send_reports(reports, transport=OutboxTransport(tmp_path), settings=mail_settings(email_digest=False))
    assert len(list(tmp_path.glob("*.eml"))) == 2


async def test_outbox_is_the_default_transport(tmp_path) -> None:
    settings = mail_settings(email_transport="outbox", outbox_dir=tmp_path / "out")
    outcomes = await send_reports([insight_report(png=noise_png(20, 20))], settings=settings)
    assert outcomes[0].status == "sent"
    [eml] = list((tmp_path / "out").glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Message-ID"] == outcomes[0].message_id
    assert not list((tmp_path / "out").glob(".*.tmp"))


async def test_subscribed_notice_per_recipient(tmp_path) -> None:
    outcomes = await send_subscribed_notice(
        subscription_id=5, recipients=["ada@example.com", "bob@example.com"], title="Product health",
        kind="dashboard", schedule_summary="every day at 08:00 (UTC)",
        posthog_url="https://us.posthog.com/project/1/dashboard/42", subscribed_by="Grace",
        transport=OutboxTransport(tmp_path), settings=mail_settings(),
    )
    assert [o.status for o in outcomes] == ["sent", "sent"]
    messages = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in tmp_path.glob("*.eml")]
    assert {m["To"] for m in messages} == {"ada@example.com", "bob@example.com"}
    for message in messages:
        assert "every day at 08:00 (UTC)" in html_of(message) and "every day at 08:00 (UTC)" in text_of(message)
        assert "Grace added you" in text_of(message)
        assert message["List-Unsubscribe"]
    assert len({m["List-Unsubscribe"] for m in messages}) == 2  # each recipient has their own link


async def test_failure_notice_to_the_creator(tmp_path) -> None:
    outcome = await send_failure_notice(
        to="owner@example.com", subscription_id=5, title="Product health", kind="dashboard",
        error="Dashboard 42 was not found in project 'Acme'", paused=True, failed_recipients=["ada@example.com"],
        transport=OutboxTransport(tmp_path), settings=mail_settings(),
    )
    assert outcome.status == "sent"
    [eml] = list(tmp_path.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "owner@example.com"
    assert "Dashboard 42 was not found in project 'Acme'" in text_of(message)
    assert "Dashboard 42 was not found in project 'Acme'" in html_of(message)
    assert "paused" in text_of(message) and "ada@example.com" in text_of(message)


async def test_a_long_digest_is_split_and_every_part_stays_under_gmail_clipping(tmp_path) -> None:
    reports = [insight_report(i, png=noise_png(16, 16, seed=i), title=f"Insight {i}") for i in range(1, 26)]
    outcomes = await send_reports(reports, transport=OutboxTransport(tmp_path), settings=mail_settings())
    assert [o.status for o in outcomes] == ["sent"] * 25
    messages = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in tmp_path.glob("*.eml")]
    assert sorted(len(inline_images(m)) for m in messages) == [5, 20]
    assert all(len(html_of(m).encode()) < 102 * 1024 for m in messages)
    assert len({o.message_id for o in outcomes}) == 2


async def test_wire_bytes_equal_the_email_package_and_carry_the_exact_images() -> None:
    report = dashboard_report(tiles=4)
    composed = await compose_reports([report], mail_settings())
    wire = message_bytes(composed.message)
    assert wire == composed.message.as_bytes()
    parsed = message_from_bytes(wire, policy=policy.default)
    assert sorted(inline_images(parsed).values()) == sorted(image.png for image in report.images)


async def test_recipients_of_one_report_each_get_their_own_links_and_images() -> None:
    settings = mail_settings()
    report = dashboard_report(tiles=3)
    first = await compose_reports([report], settings)
    other = dashboard_report(tiles=3, recipient="grace@example.com")
    other.images = report.images
    second = await compose_reports([other], settings)
    for composed in (first, second):
        message = reparse(composed.message)
        html = html_of(message)
        own = message["List-Unsubscribe"].strip("<>")
        assert own in html
        assert "personal" not in html
        assert set(cids_in(html)) == set(inline_images(message))
    assert first.message["List-Unsubscribe"] != second.message["List-Unsubscribe"]
    assert first.message["List-Unsubscribe"].strip("<>") not in html_of(reparse(second.message))


async def test_a_title_with_line_breaks_still_makes_a_one_line_subject() -> None:
    report = insight_report(title="Signups\nby week\r\nBcc: someone@example.com")
    composed = await compose_reports([report], mail_settings())
    message = reparse(composed.message)
    assert message["Subject"] == "Signups by week Bcc: someone@example.com – your PostHog report"
    assert message["Bcc"] is None
