"""Signed-in callers without a password round trip, for tests, the fuzz run and the benchmarks.

Argon2id makes each login cost tens of milliseconds on purpose; a race of a thousand residents or a
bench of ten thousand clients would spend its time hashing. The session row is written with the
statement login itself uses, so the API cannot tell these callers from people who logged in.
Importable without pytest (bench/ uses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.accounts.queries import INSERT_SESSION
from backend.auth import hash_token, new_token


async def mint_sessions(
    db: Any, account_ids: Sequence[int], *, lasting: timedelta = timedelta(hours=2), at: datetime | None = None
) -> list[str]:
    """One bearer token per account, in order; `db` is an asyncpg connection or pool."""
    now = at or datetime.now(UTC)
    tokens = [new_token() for _ in account_ids]
    await db.executemany(
        INSERT_SESSION,
        [
            (account, hash_token(token), now, now + lasting, None)
            for account, token in zip(account_ids, tokens, strict=True)
        ],
    )
    return tokens


async def mint_session(db: Any, account_id: int, *, lasting: timedelta = timedelta(hours=2)) -> str:
    [token] = await mint_sessions(db, [account_id], lasting=lasting)
    return token
