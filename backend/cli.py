"""The `musubi` command: serve, migrate, seed, dev."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

import uvicorn

from backend.db import migrate
from backend.embedded import resolve_services
from backend.seed import DEMO_PASSWORD, format_table, seed_demo
from backend.settings import Settings, get_settings

log = logging.getLogger("musubi.cli")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _migrate(settings: Settings) -> None:
    assert settings.database_url is not None
    applied = asyncio.run(migrate(settings.database_url))
    print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}", flush=True)


def _seed(settings: Settings) -> None:
    assert settings.database_url is not None
    rows = asyncio.run(seed_demo(settings.database_url, settings))
    print(f"\nDemo accounts (password: {DEMO_PASSWORD})", flush=True)
    print(format_table(rows, ("email", "role", "organisation")), flush=True)


def _serve(settings: Settings) -> None:
    from backend.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        lifespan="on",
        # Behind nginx the client address comes from X-Forwarded-For (login throttling needs it).
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )
    asyncio.run(uvicorn.Server(config).serve())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="musubi", description="Musubi booking and emergency coordination")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    seed = commands.add_parser("seed", help="load data")
    seed.add_argument("--demo", action="store_true", required=True, help="the demo accounts and organisations")
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    commands.add_parser("dev", help="everything in one command: embedded services, migrations, demo data, API")
    args = parser.parse_args(argv)

    settings = get_settings()
    _configure_logging(settings)
    settings = resolve_services(settings)
    if args.command == "migrate":
        _migrate(settings)
    elif args.command == "seed":
        _seed(settings)
    elif args.command == "serve":
        if args.migrate:
            _migrate(settings)
        _serve(settings)
    elif args.command == "dev":
        _migrate(settings)
        _seed(settings)
        base = f"http://{settings.host}:{settings.port}"
        print(f"\nMusubi API:  {base}  (OpenAPI: {base}/schema/openapi.json, docs: {base}/schema/swagger)", flush=True)
        _serve(settings)


if __name__ == "__main__":
    main()
