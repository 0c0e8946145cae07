"""Signed unsubscribe tokens: they round-trip, resist forgery, survive key rotation, never crash on junk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.settings import Settings
from core.tokens import UNSUBSCRIBE, read_unsubscribe_token, sign, unsubscribe_token, verify


def keys(value: str) -> Settings:
    return Settings(secret_key=value)


KEY = keys("test-secret-key")


def test_round_trip() -> None:
    token = unsubscribe_token(7, "ada@example.com", settings=KEY)
    assert read_unsubscribe_token(token, settings=KEY) == ([7], "ada@example.com")
    digest = unsubscribe_token([9, 3, 9], "ada@example.com", settings=KEY)
    assert read_unsubscribe_token(digest, settings=KEY) == ([3, 9], "ada@example.com")
    assert all(c.isalnum() or c in "-_." for c in token)  # URL-safe as is


def test_every_single_character_edit_is_refused() -> None:
    token = unsubscribe_token(7, "ada@example.com", settings=KEY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index, original in enumerate(token):
        for replacement in {alphabet[(alphabet.find(original) + 1) % 64], "."}:
            edited = token[:index] + replacement + token[index + 1:]
            if edited != token:
                assert read_unsubscribe_token(edited, settings=KEY) is None, (index, replacement)
    assert read_unsubscribe_token(token[:-1], settings=KEY) is None
    assert read_unsubscribe_token(token + "A", settings=KEY) is None


def test_a_token_is_bound_to_its_subscription_and_address() -> None:
    token_a = unsubscribe_token(1, "ada@example.com", settings=KEY)
    ids_payload, mac = token_a.split(".")
    forged = sign(UNSUBSCRIBE, "2\nada@example.com", settings=KEY).split(".")[0] + "." + mac
    assert read_unsubscribe_token(forged, settings=KEY) is None
    ada_1 = unsubscribe_token(1, "ada@example.com", settings=KEY)
    assert ada_1 != unsubscribe_token(2, "ada@example.com", settings=KEY)
    assert ada_1 != unsubscribe_token(1, "bob@example.com", settings=KEY)


def test_purposes_do_not_mix() -> None:
    token = sign("some-other-purpose", "1\nada@example.com", settings=KEY)
    assert read_unsubscribe_token(token, settings=KEY) is None
    assert verify("some-other-purpose", token, settings=KEY) == "1\nada@example.com"


def test_rotated_keys_still_verify_and_other_keys_do_not() -> None:
    old = unsubscribe_token(1, "ada@example.com", settings=keys("old-key"))
    assert read_unsubscribe_token(old, settings=keys("new-key,old-key")) == ([1], "ada@example.com")
    assert read_unsubscribe_token(old, settings=keys("new-key")) is None
    new = unsubscribe_token(1, "ada@example.com", settings=keys("new-key,old-key"))
    assert read_unsubscribe_token(new, settings=keys("new-key")) == ([1], "ada@example.com")


def test_signing_key_is_not_the_encryption_key() -> None:
    import base64
    import hashlib
    import hmac

    from core.tokens import _derived_key

    fernet_material = hashlib.sha256(b"fernet:test-secret-key").digest()
    assert _derived_key("test-secret-key") != fernet_material
    # A MAC made with the raw secret (or the Fernet material) is not accepted.
    payload = b"1\nada@example.com"
    for key in (b"test-secret-key", fernet_material):
        mac = hmac.new(key, UNSUBSCRIBE.encode() + b"\x00" + payload, hashlib.sha256).digest()
        token = (base64.urlsafe_b64encode(payload).rstrip(b"=") + b"." + base64.urlsafe_b64encode(mac).rstrip(b"="))
        assert read_unsubscribe_token(token.decode(), settings=KEY) is None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_\-]{0,80}\.[A-Za-z0-9_\-]{0,60}", fullmatch=True))
def test_arbitrary_strings_never_crash_verification(candidate: str) -> None:
    assert read_unsubscribe_token(candidate, settings=KEY) is None


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=2**62), st.emails())
def test_any_subscription_and_address_round_trip(subscription_id: int, address: str) -> None:
    token = unsubscribe_token(subscription_id, address, settings=KEY)
    assert read_unsubscribe_token(token, settings=KEY) == ([subscription_id], address)
