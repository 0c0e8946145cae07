"""`app.py secrets rotate`: re-encrypt every stored secret with the first key of SECRET_KEY.

To replace a key: put the new key first and keep the old one after it (`SECRET_KEY=new,old`) on every process,
run `secrets rotate`, then drop the old key. Values are read and written as stored (ciphertext), one row at a
time in short transactions, so the service can keep running meanwhile.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from sqlalchemy import String, Table, bindparam, select, type_coerce, update

from core.crypto import EncryptedString, SecretKeyError, cipher
from core.db import Database
from core.models import Base


def encrypted_columns() -> list[tuple[Table, str]]:
    """Every (table, column) holding a secret, found from the models so that a new one cannot be forgotten."""
    return [
        (table, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedString)
    ]


async def rotate_secrets(database: Database) -> dict[str, int]:
    """Re-encrypt each stored secret with the first key; the number of values rewritten, by "table.column"."""
    keys = cipher()
    rewritten: dict[str, int] = {}
    for table, name in encrypted_columns():
        raw = type_coerce(table.c[name], String)  # the ciphertext, not the decrypted value
        (primary_key,) = table.primary_key.columns
        async with database.session() as session:
            rows = (await session.execute(select(primary_key, raw).where(table.c[name].is_not(None)))).all()
        count = 0
        for row_id, token in rows:
            try:
                fresh = keys.rotate(token.encode()).decode()
            except InvalidToken:
                raise SecretKeyError(
                    f"A stored secret ({table.name}.{name} of row {row_id}) could not be decrypted with any key of "
                    "SECRET_KEY: keep the key it was saved with in the list (after the new one) and run this again."
                ) from None
            async with database.transaction() as session:
                # Only if unchanged meanwhile: a value saved since then is already under the first key.
                result = await session.execute(
                    update(table).where(primary_key == row_id, raw == bindparam("old", type_=String))
                    .values({name: type_coerce(bindparam("new", type_=String), String)}),
                    {"old": token, "new": fresh},
                )
            count += result.rowcount
        rewritten[f"{table.name}.{name}"] = count
    return rewritten
