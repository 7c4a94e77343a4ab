"""An Idempotency-Key answered by the command's own statement (issue 16).

The Idempotency-Key middleware (backend/http/idempotency.py) claims a key before a handler runs (in
the session lookup's statement where it can) and stores the answer after it: a round trip more and
two commits besides the command's own, on every POST the client makes (it always sends a key). A
handler on a rush path declares `idempotency=AnsweredByCommand("/v1/things/{id}")` (beside `Reread`
in that module) instead; for a signed-in caller the middleware then claims nothing and hands the
key to the handler (`command_key`), whose command writes the key row in the statement (or
transaction) that makes the change: the key and the change commit together or not at all. The
answer is kept as a reference to re-read, as `Reread` keeps it, since the body is not written yet
when the command commits.

A key that exists already (a retry, a concurrent duplicate) fails that statement on the key's
primary key and undoes the change with it; `answering` marks the key taken, and the middleware
looks at the stored answer as it does for any key (replay, wait, 422 for another body), after
deleting a key that a request left behind (it died, or the key is past its time to live) and
running the command once more. A request the command did not answer (a refusal) is kept by the
middleware afterwards, claimed and stored in one statement."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
from litestar.connection import ASGIConnection

from backend.core.errors import Conflict

_STATE_KEY: Final = "musubi.command_key"
_KEY_CONSTRAINT: Final = "idempotency_keys_pkey"


@dataclass(slots=True)
class CommandKey:
    """The key a command writes, and what became of it."""

    principal: str
    key: str
    request_hash: bytes
    path: str  # the answer's GET path; `{id}` is the id of the row the command creates
    status: int
    answered: bool = False  # the command wrote the key with its change
    taken: bool = False  # the key existed: the command's statement failed and changed nothing

    def columns(self) -> tuple[str, str, bytes, int, str]:
        """principal, key, request hash, status and path, as ANSWER_KEY takes them."""
        return self.principal, self.key, self.request_hash, self.status, self.path


# The key row of a command's answer: its status and its reference (the path with the created row's
# id), no lease (the command commits with it), in a statement's own parameters: `answer_key("$1", …)`.
def answer_key(principal: str, key: str, request_hash: str, status: str, path: str, created_id: str, at: str) -> str:
    return f"""
INSERT INTO idempotency_keys (principal, key, request_hash, response_status, response_headers, response_ref, created_at)
SELECT {principal}, {key}, {request_hash}, {status}, '[["content-type", "application/json"]]',
       replace({path}, '{{id}}', {created_id}::text), {at}"""


# The same as a statement of its own: $1–$5 as CommandKey.columns gives them, $6 the id of the row
# created, $7 the time (a transaction's last write).
ANSWER_KEY: Final = answer_key("$1", "$2", "$3", "$4", "$5", "$6::bigint", "$7")


def writing_key(command: str, *, done: str, created_id: str, first: int, at: str) -> str:
    """`command`, one statement that answers `outcome` and the columns of the row it made, with the
    request's key written beside its change when the outcome is `done`: the key's parameters from
    `$first` on (five, as CommandKey.columns gives them), the reference filled with the row's
    `created_id` column (the first row's, for a command that answers several), the time the parameter
    `at`. A key that exists fails the whole statement on idempotency_keys_pkey, change and all."""
    principal, key, request_hash, status, path = (f"${n}" for n in range(first, first + 5))
    return f"""
WITH done AS ({command}
), answer AS ({answer_key(principal, key, request_hash, status, path, f"done.{created_id}", at)}
      FROM done WHERE done.outcome = '{done}' LIMIT 1
)
SELECT * FROM done
"""


def hand_over(connection: ASGIConnection[Any, Any, Any, Any], key: CommandKey | None) -> None:
    """The middleware's part: the key the handler's command is to write (None: none)."""
    state = connection.scope.setdefault("state", {})
    if key is None:
        state.pop(_STATE_KEY, None)
    else:
        state[_STATE_KEY] = key


def command_key(connection: ASGIConnection[Any, Any, Any, Any]) -> CommandKey | None:
    """The handler's part: the key its command writes with its change, if one was handed over."""
    key: CommandKey | None = (connection.scope.get("state") or {}).get(_STATE_KEY)
    return key


@contextmanager
def answering(key: CommandKey | None) -> Iterator[None]:
    """Around the statement or transaction that may write `key` (whose caller sets `key.answered`
    once it did): an existing key is marked taken and refused as a request still in progress, which
    the middleware replaces with the stored answer."""
    try:
        yield
    except asyncpg.UniqueViolationError as error:
        if key is None or error.constraint_name != _KEY_CONSTRAINT:
            raise
        key.taken = True
        # The middleware answers with the key's stored answer instead (or waits for it).
        raise Conflict(
            "Another request with this Idempotency-Key came first; retry shortly.",
            slug="request-in-progress",
            title="Request in progress",
            headers={"Retry-After": "1"},
        ) from None
