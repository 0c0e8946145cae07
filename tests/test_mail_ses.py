"""Sending through Amazon SES v2 (moto's implementation of the API): the raw message arrives intact."""

from __future__ import annotations

import re
from email import message_from_string, policy

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from mail import SesTransport, send_reports
from tests.test_mail_support import dashboard_report, html_of, inline_images, insight_report, mail_settings, noise_png

REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def ses_settings(**overrides):
    return mail_settings(email_transport="ses", ses_region=REGION, **overrides)


async def test_raw_message_arrives_intact(aws) -> None:
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress="reports@exports.example")
    report = dashboard_report(tiles=2, pngs=[noise_png(seed=1), noise_png(seed=2)])

    outcomes = await send_reports([report], settings=ses_settings())

    assert [o.status for o in outcomes] == ["sent"]
    [sent] = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert sent.source == "reports@exports.example"
    assert "ada@example.com" in sent.destinations
    message = message_from_string(sent.raw_data, policy=policy.default)
    assert message["Message-ID"] == outcomes[0].message_id
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = html_of(message)
    images = inline_images(message)
    cids = re.findall(r'src="cid:([^"]+)"', html)
    assert [images[c] for c in cids] == [image.png for image in report.images]


async def test_unverified_sender_is_a_permanent_failure(aws) -> None:
    outcomes = await send_reports([insight_report(png=noise_png(20, 20))], settings=ses_settings())
    assert outcomes[0].status == "failed" and outcomes[0].transient is False
    assert "MessageRejected" in outcomes[0].error
    assert ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages == []


async def test_transport_accepts_a_client(aws) -> None:
    boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress="reports@exports.example")
    transport = SesTransport(ses_settings(), client=boto3.client("sesv2", region_name=REGION))
    outcomes = await send_reports(
        [insight_report(recipient=r, png=noise_png(20, 20)) for r in ("a@example.com", "b@example.com")],
        transport=transport, settings=ses_settings(),
    )
    assert [o.status for o in outcomes] == ["sent", "sent"]
    assert len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages) == 2
