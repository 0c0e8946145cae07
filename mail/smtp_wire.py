"""Line endings and dot-stuffing for aiosmtplib, at C speed.

aiosmtplib readies each message for the wire with regular expressions over the whole message: every line ending
made CRLF (twice: once to count the SIZE it announces, once to send) and a dot doubled where it starts a line. A
report with a dozen charts is a megabyte of base64 in 17,000 lines, and those three passes hold the event loop
for about 60 ms per email — most of a large delivery run's CPU. `bytes.replace` does the same at C speed;
`install()` puts these functions in place of aiosmtplib's own (tests/test_mail_smtp.py checks that they give the
same bytes), and leaves an aiosmtplib without them alone.
"""

from __future__ import annotations

from aiosmtplib import protocol, smtp


def crlf_lines(message: bytes) -> bytes:
    """Every line ending (CRLF, LF or a lone CR) as CRLF, ending with one: aiosmtplib's
    `normalize_message_line_endings`."""
    crlf = message.count(b"\r\n")
    if message.count(b"\n") == crlf and message.count(b"\r") == crlf:  # CRLF already, as the composer writes
        return message if message.endswith(b"\r\n") else message + b"\r\n"
    message = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return message if message.endswith(b"\r\n") else message + b"\r\n"


class DotStuffing:
    """Stands in for aiosmtplib's `PERIOD_REGEX` (`(?m)^\\.`), whose `.sub(b"..", message)` doubles a dot that
    starts a line, so that the server does not read it as the end of the message."""

    @staticmethod
    def sub(replacement: bytes, message: bytes) -> bytes:
        if replacement != b"..":
            raise ValueError("only the dot-stuffing replacement is supported")
        stuffed = message.replace(b"\n.", b"\n..")
        return b"." + stuffed if stuffed.startswith(b".") else stuffed


ORIGINAL = (getattr(protocol, "normalize_message_line_endings", None), getattr(protocol, "PERIOD_REGEX", None))


def install() -> None:
    if ORIGINAL[0] is None or ORIGINAL[1] is None or not hasattr(smtp, "normalize_message_line_endings"):
        return  # an aiosmtplib that prepares messages another way
    protocol.normalize_message_line_endings = crlf_lines
    smtp.normalize_message_line_endings = crlf_lines
    protocol.PERIOD_REGEX = DotStuffing()
