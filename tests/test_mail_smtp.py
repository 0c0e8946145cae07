"""Sending through a real SMTP server (aiosmtpd on loopback): delivery, retries, refusals, login."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mail import SmtpTransport, send_reports
from tests.standins.smtp_server import SmtpServer
from tests.test_mail_support import (
    dashboard_report,
    html_of,
    inline_images,
    insight_report,
    mail_settings,
    noise_png,
    text_of,
)


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


def smtp_settings(server: SmtpServer, **overrides):
    return mail_settings(
        email_transport="smtp", smtp_host=server.host, smtp_port=server.port, smtp_security="none", **overrides
    )


async def test_dashboard_report_arrives_whole(smtp_server: SmtpServer) -> None:
    report = dashboard_report(tiles=3, pngs=[noise_png(seed=i) for i in range(3)])
    outcomes = await send_reports([report], settings=smtp_settings(smtp_server))

    assert [o.status for o in outcomes] == ["sent"]
    [received] = smtp_server.messages
    assert received.sender == "reports@exports.example"
    assert received.recipients == ["ada@example.com"]
    message = received.parsed()
    assert message["Message-ID"] == outcomes[0].message_id
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    html = html_of(message)
    cids = re.findall(r'src="cid:([^"]+)"', html)
    images = inline_images(message)
    assert len(cids) == 3 and set(cids) == set(images)
    assert [images[c] for c in cids] == [image.png for image in report.images]
    assert message["List-Unsubscribe"].startswith("<https://exports.example/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Product health" in text_of(message)


async def test_temporary_refusal_is_retried_and_delivered_once(smtp_server: SmtpServer) -> None:
    smtp_server.script("ada@example.com", "451 4.3.0 Mailbox busy, try later", "452 4.2.2 Over quota, try later")
    outcomes = await send_reports([insight_report(png=noise_png(30, 30))], settings=smtp_settings(smtp_server))

    assert outcomes[0].status == "sent" and outcomes[0].error is None
    assert smtp_server.attempts("ada@example.com") == 3
    assert len(smtp_server.messages) == 1


async def test_temporary_refusals_beyond_the_attempts_fail_as_transient(smtp_server: SmtpServer) -> None:
    smtp_server.script("ada@example.com", *["451 4.3.0 try later"] * 5)
    outcomes = await send_reports(
        [insight_report(png=noise_png(30, 30))], settings=smtp_settings(smtp_server, email_retry_attempts=2)
    )
    assert outcomes[0].status == "failed" and outcomes[0].transient is True
    assert "451" in outcomes[0].error
    assert smtp_server.attempts("ada@example.com") == 2
    assert smtp_server.messages == []


async def test_permanent_refusal_of_one_recipient_does_not_block_the_others(smtp_server: SmtpServer) -> None:
    smtp_server.script("bob@example.com", "550 5.1.1 No such user here")
    reports = [insight_report(recipient=r, png=noise_png(30, 30)) for r in
               ("ada@example.com", "bob@example.com", "cy@example.com")]
    outcomes = await send_reports(reports, settings=smtp_settings(smtp_server))

    assert {o.recipient: o.status for o in outcomes} == {
        "ada@example.com": "sent", "bob@example.com": "failed", "cy@example.com": "sent",
    }
    bob = next(o for o in outcomes if o.recipient == "bob@example.com")
    assert bob.transient is False and "550" in bob.error
    assert smtp_server.attempts("bob@example.com") == 1  # a permanent refusal is not retried
    assert sorted(r for m in smtp_server.messages for r in m.recipients) == ["ada@example.com", "cy@example.com"]


async def test_unreachable_server_is_a_transient_failure() -> None:
    server = SmtpServer().start()
    port = server.port
    server.stop()  # nothing listens on the port any more
    settings = mail_settings(email_transport="smtp", smtp_host="127.0.0.1", smtp_port=port, smtp_security="none",
                             smtp_timeout_seconds=2, email_retry_attempts=2)
    outcomes = await send_reports([insight_report(png=noise_png(30, 30))], settings=settings)
    assert outcomes[0].status == "failed" and outcomes[0].transient is True


async def test_login_with_username_and_password() -> None:
    server = SmtpServer(username="mailer", password="s3cret").start()
    try:
        good = smtp_settings(server, smtp_username="mailer", smtp_password="s3cret")
        assert (await send_reports([insight_report(png=noise_png(30, 30))], settings=good))[0].status == "sent"
        assert len(server.messages) == 1
        assert server.authenticator.logins == [b"mailer"]

        bad = smtp_settings(server, smtp_username="mailer", smtp_password="wrong")
        [outcome] = await send_reports([insight_report(png=noise_png(30, 30))], settings=bad)
        assert outcome.status == "failed" and outcome.transient is False and "login" in outcome.error
        assert len(server.messages) == 1
    finally:
        server.stop()


async def test_a_few_connections_serve_many_messages(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_settings(smtp_server), connections=2)
    try:
        reports = [insight_report(recipient=f"user{i}@example.com", png=noise_png(20, 20)) for i in range(12)]
        outcomes = await send_reports(reports, transport=transport, settings=smtp_settings(smtp_server))
    finally:
        await transport.close()
    assert [o.status for o in outcomes] == ["sent"] * 12
    assert len(smtp_server.messages) == 12
    assert 1 <= smtp_server.connections <= 2


async def test_runs_at_once_each_keep_their_own_connections(smtp_server: SmtpServer) -> None:
    """Two pipeline runs overlap: the one that ends first must not close the other's SMTP connections."""
    from core.delivery import Report
    from core.models import Subscription
    from mail import EmailSender

    report = insight_report(png=noise_png(20, 20))
    as_delivery = Report(subscription=Subscription(id=report.subscription_id), address=report.recipient,
                         title=report.title, posthog_url=report.posthog_url, schedule_summary=report.schedule_summary,
                         content=report.content, images=report.images)
    sender = EmailSender(smtp_settings(smtp_server))
    async with sender.opened() as first:
        async with sender.opened() as second:
            [outcome] = await second.send([as_delivery])
            assert outcome.sent
        [outcome] = await first.send([as_delivery])  # after the second run closed its own connections
        assert outcome.sent, outcome.error
    assert len(smtp_server.messages) == 2


@given(st.lists(st.sampled_from([b"\r\n", b"\n", b"\r", b".", b"..", b"a", b"=", b" ", b"\x00"]), max_size=40))
def test_the_fast_wire_preparation_gives_aiosmtplibs_own_bytes(parts: list[bytes]) -> None:
    from mail import smtp_wire

    message = b"".join(parts)
    normalize, period = smtp_wire.ORIGINAL
    assert smtp_wire.crlf_lines(message) == normalize(message)
    ready = normalize(message)
    assert smtp_wire.crlf_lines(ready) == ready  # a message in CRLF already, as the composer writes it
    assert smtp_wire.DotStuffing.sub(b"..", ready) == period.sub(b"..", ready)


async def test_lines_that_start_with_a_dot_arrive_as_written(smtp_server: SmtpServer) -> None:
    from email.message import EmailMessage

    body = ".hidden\n..two dots\n.\nafter a line that is one dot\n"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "reports@example.com", "ana@example.com", "Dots"
    message.set_content(body, cte="7bit")
    transport = SmtpTransport(smtp_settings(smtp_server))
    try:
        await transport.send(message, "ana@example.com")
    finally:
        await transport.close()
    [received] = smtp_server.messages
    assert received.parsed().get_content().replace("\r\n", "\n") == body  # a lone "." did not end it early
