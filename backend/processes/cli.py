"""The `musubi` command: serve, migrate, seed, dev."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys

import uvicorn

from backend.core.clock import SystemClock
from backend.core.context import open_context
from backend.core.db import migrate
from backend.core.logs import configure_logging
from backend.core.metrics import observe_pool_forever, start_metrics_port
from backend.core.settings import Settings, get_settings, warn_about_unknown_variables
from backend.mail.sink import MailSink, start_sink
from backend.mail.transport import SmtpTransport
from backend.mail.worker import MailWorker
from backend.processes.embedded import resolve_services
from backend.processes.jobs import sweep_forever
from backend.push.apns import apns_client_from_settings
from backend.push.worker import PushWorker
from backend.seeds.seed import DEMO_PASSWORD, format_table, seed_demo
from backend.seeds.seed_scale import BOOKINGS, seed_ibaraki
from realtime.bus import MemoryBus, make_bus
from realtime.gateway import Gateway, run_gateway
from realtime.relay import OutboxRelay

log = logging.getLogger("musubi.cli")


def _configure_logging(settings: Settings, *, json_lines: bool = True) -> None:
    configure_logging(settings.log_level, json_lines=json_lines)
    warn_about_unknown_variables()


def worker_app() -> object:
    """The app of one `serve --workers N` process: a fresh interpreter, so logging is set up again."""
    from backend.http.app import create_app

    _configure_logging(get_settings())
    app = create_app()
    _freeze_what_lives_on()
    return app


def _freeze_what_lives_on() -> None:
    """Once the app is built: its ~140,000 objects (routes, schemas, the OpenAPI document) leave the
    cyclic garbage collector's generations (gc.freeze), since they live as long as the process.
    Otherwise each full collection walks them all: in a booking rush one ran every few seconds per
    worker and stopped it for 100–160 ms (28 ms frozen), on every request in flight there (issue 16).
    The garbage of building it is collected first, not kept for good."""
    gc.collect()
    gc.freeze()


def _migrate(settings: Settings) -> None:
    assert settings.database_url is not None
    applied = asyncio.run(migrate(settings.database_url))
    print(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}", flush=True)


def _seed(settings: Settings) -> None:
    assert settings.database_url is not None
    rows = asyncio.run(seed_demo(settings.database_url, settings))
    print(f"\nDemo accounts (password: {DEMO_PASSWORD})", flush=True)
    print(format_table(rows, ("email", "role", "organisation")), flush=True)


async def _run(
    settings: Settings,
    *,
    api: bool,
    relay: bool,
    gateway: bool,
    worker: bool = False,
    push: bool = False,
    mail: bool = False,
    web: bool = False,
) -> None:
    """Run the chosen processes in this event loop until SIGINT/SIGTERM."""
    from backend.http.app import create_app

    assert settings.database_url is not None
    stop = asyncio.Event()
    bus = make_bus(
        settings.redis_url, sentinels=settings.redis_sentinels, sentinel_master=settings.redis_sentinel_master
    )
    if isinstance(bus, MemoryBus) and (gateway or relay) and not (gateway and relay):
        raise SystemExit("REDIS_URL=memory:// works only when relay and gateway run in one process (musubi dev)")
    apns = apns_client_from_settings(settings) if push else None
    if push and apns is None and not (api or gateway):
        raise SystemExit("push-worker needs MUSUBI_APNS_KEY_FILE, _KEY_ID, _TEAM_ID and _TOPIC")
    # Loops that run until cancelled, and the context the worker loops share.
    background: list[asyncio.Task[None]] = []
    if not (api or gateway):  # those two serve /metrics on their own port
        start_metrics_port(settings.metrics_host, settings.metrics_port)
    if relay:
        background.append(asyncio.create_task(OutboxRelay(settings.database_url, bus).run()))
    sink_server = None
    smtp_url = settings.smtp_url
    if mail and smtp_url is None:
        if not api:
            raise SystemExit("mail-worker needs MUSUBI_SMTP_URL (smtp://user:pass@host:587?starttls=true)")
        # `musubi dev` without a relay: a local sink keeps the mail and prints its links.
        sink = MailSink(settings.data_dir / "mail", announce=lambda text: print(f"\n📧 {text}\n", flush=True))
        sink_server = await start_sink(sink, "127.0.0.1", settings.dev_smtp_port)
        smtp_url = f"smtp://127.0.0.1:{settings.dev_smtp_port}?starttls=false"
        print(f"Mail:            kept in {settings.data_dir / 'mail'} (links are printed here)", flush=True)
    worker_ctx = await open_context(settings, SystemClock()) if worker or mail or apns is not None else None
    if worker_ctx is not None and not api:
        background.append(asyncio.create_task(observe_pool_forever(worker_ctx)))
    if worker_ctx is not None and worker:
        background.append(asyncio.create_task(sweep_forever(worker_ctx)))
    if worker_ctx is not None and apns is not None:
        log.info("push worker sending to APNs (%s)", "sandbox" if settings.apns_sandbox else "production")
        background.append(asyncio.create_task(PushWorker(worker_ctx, apns).run()))
    if worker_ctx is not None and mail and smtp_url is not None:
        background.append(asyncio.create_task(MailWorker(worker_ctx, SmtpTransport.from_url(smtp_url)).run()))
    if web:
        background.append(asyncio.create_task(_serve_web(settings)))
    gateway_task = None
    if gateway:
        hub = Gateway(
            secret=settings.secret,
            bus=bus,
            dsn=settings.database_url,
            max_age_s=settings.gateway_max_age_seconds,
            ticket_ttl_s=settings.ticket_ttl_seconds,
            replay_window_s=settings.gateway_replay_window_seconds,
        )
        gateway_task = asyncio.create_task(run_gateway(hub, settings.gateway_host, settings.gateway_port, stop))
    if api:
        app = create_app(settings)
        _freeze_what_lives_on()
        config = uvicorn.Config(app, **_uvicorn_options(settings))  # type: ignore[arg-type]
        # uvicorn owns SIGINT/SIGTERM here; everything else stops when it does.
        await uvicorn.Server(config).serve()
    else:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    stop.set()  # the gateway closes its sockets with 1012 so clients resume elsewhere
    for task in background:
        task.cancel()
    await asyncio.gather(*background, *([gateway_task] if gateway_task else []), return_exceptions=True)
    if worker_ctx is not None:
        await worker_ctx.close()
    if sink_server is not None:
        sink_server.close()
    await bus.close()


async def _serve_web(settings: Settings) -> None:
    """The Flet web client beside the API (its Python side calls the API over HTTP)."""
    from mobile.web import web_app

    api_url = settings.web_api_url or f"http://{settings.host}:{settings.port}"
    app = web_app(api_url, settings.data_dir.resolve() / "web-assets")
    config = uvicorn.Config(app, host=settings.host, port=settings.web_port, log_level="warning")
    server = uvicorn.Server(config)
    # Only one server may own SIGINT/SIGTERM: the API's. This one is cancelled when that one stops.
    setattr(server, "capture_signals", contextlib.nullcontext)  # noqa: B010 - replacing a method on one instance
    await server.serve()


def _uvicorn_options(settings: Settings) -> dict[str, object]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        # Our handlers (JSON lines) carry uvicorn's messages; our request line replaces its access log.
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        # uvicorn would believe X-Forwarded-For from 127.0.0.1 (its default), so a local client could
        # pick its own address; the app takes it only from MUSUBI_TRUSTED_PROXIES (backend/http/app.py).
        "proxy_headers": False,
        "timeout_graceful_shutdown": 20,
        # Longer than a load balancer's idle timeout, so the proxy, not we, closes idle connections.
        "timeout_keep_alive": 75,
    }


def _serve_workers(settings: Settings, workers: int) -> None:
    """Several API processes on one port (uvicorn forks them); each builds its app from the environment."""
    assert settings.database_url is not None
    os.environ.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url or "memory://",
        MUSUBI_SECRET_KEY=settings.secret_key or "",
        MUSUBI_IDENTITY_KEYS=settings.identity_keys or "",
    )
    _prepare_multiprocess_metrics()
    uvicorn.run("backend.processes.cli:worker_app", factory=True, workers=workers, **_uvicorn_options(settings))  # type: ignore[arg-type]


def _prepare_multiprocess_metrics() -> None:
    """Workers share one port, so a scrape reaches any one of them: they write their samples to a
    shared folder that /metrics merges. It must start empty, or a previous run's counts would add in."""
    import tempfile
    from pathlib import Path

    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="musubi-metrics-")
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder


def _backup_or_restore(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import replace
    from pathlib import Path

    from backend.processes import backup

    # Only the database matters here: no embedded Redis for a backup.
    settings = resolve_services(replace(settings, redis_url=settings.redis_url or "memory://"))
    assert settings.database_url is not None
    try:
        if args.command == "backup":
            manifest = asyncio.run(backup.backup(settings.database_url, Path(args.file)))
            keys = ", ".join(f"{key} ({count})" for key, count in manifest.identity_keys.items()) or "none"
            print(f"backup written to {args.file} (schema {manifest.schema_version}); identity key ids needed: {keys}")
            print(f"manifest: {backup.manifest_path(Path(args.file))}; keep those keys as long as this backup")
        else:
            target = args.database_url or settings.database_url
            report = asyncio.run(backup.restore(Path(args.file), target, settings.identity_keys))
            print(f"restored {report.tables} tables; identity key ids {sorted(report.identity_keys) or 'none'}; "
                  f"{report.identities_opened} sealed identities opened with the configured keys")  # fmt: skip
    except backup.BackupError as error:
        print(f"musubi {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


def _verify_lottery(api: str, lottery_id: int) -> int:
    """Fetch the published lottery over HTTP and recompute it; exit status 0 when it checks out."""
    import json
    import urllib.request

    from backend.lottery.verify import verify_published

    url = f"{api.rstrip('/')}/v1/lotteries/{lottery_id}"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - the operator names the URL
        published = json.load(response)
    problems = verify_published(published)
    if problems:
        for problem in problems:
            print(f"MISMATCH: {problem}")
        return 1
    winners = sum(r["wonRank"] is not None for r in published["results"])
    print(f"lottery {lottery_id} verified: seed matches its commitment, {winners} of "
          f"{len(published['results'])} applications won exactly as published")  # fmt: skip
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="musubi", description="Musubi booking and emergency coordination")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending database migrations")
    seed = commands.add_parser("seed", help="load data")
    what = seed.add_mutually_exclusive_group(required=True)
    what.add_argument("--demo", action="store_true", help="the demo accounts and organisations")
    what.add_argument("--scale", choices=["ibaraki"], help="prefecture-scale facilities and a year of bookings")
    seed.add_argument(
        "--factor", type=int, default=1, help="with --scale: this many times the bookings (10: 4 million)"
    )
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--migrate", action="store_true", help="apply migrations first")
    serve.add_argument("--workers", type=int, default=1, help="API worker processes sharing the port")
    commands.add_parser("gateway", help="run the websocket gateway")
    commands.add_parser("relay", help="run the outbox relay (several may run; one leads)")
    commands.add_parser("worker", help="run periodic housekeeping (expired holds and payments, old keys)")
    commands.add_parser("web", help="serve the Flet web client (no CDN)")
    commands.add_parser("push-worker", help="send urgent events to APNs (needs the MUSUBI_APNS_* settings)")
    commands.add_parser("mail-worker", help="send the e-mail outbox over SMTP (needs MUSUBI_SMTP_URL)")
    lottery = commands.add_parser("lottery", help="lottery tools")
    lottery_commands = lottery.add_subparsers(dest="lottery_command", required=True)
    verify = lottery_commands.add_parser("verify", help="recompute a drawn lottery from its published data")
    verify.add_argument("lottery_id", type=int)
    verify.add_argument("--api", help="API base URL (default: this machine's MUSUBI_HOST/PORT)")
    commands.add_parser("dev", help="everything in one command: embedded services, migrations, demo data, API")
    backup = commands.add_parser("backup", help="pg_dump (custom format) of DATABASE_URL, with a manifest of key ids")
    backup.add_argument("file", help="where to write the dump (the manifest goes to FILE.json)")
    restore = commands.add_parser("restore", help="restore a backup into an empty database and check its identity keys")
    restore.add_argument("file")
    restore.add_argument("--database-url", help="the empty target database (default: DATABASE_URL)")
    args = parser.parse_args(argv)

    settings = get_settings()
    # JSON lines for log collectors; plain text for a person running the whole system at a terminal.
    _configure_logging(settings, json_lines=args.command != "dev")
    if args.command == "lottery":
        raise SystemExit(_verify_lottery(args.api or f"http://{settings.host}:{settings.port}", args.lottery_id))
    if args.command in ("backup", "restore"):
        raise SystemExit(_backup_or_restore(args, settings))
    settings = resolve_services(settings)
    if args.command == "migrate":
        _migrate(settings)
    elif args.command == "seed" and args.scale:
        assert settings.database_url is not None
        _migrate(settings)
        if args.factor < 1:
            raise SystemExit("--factor must be 1 or more")
        figures = asyncio.run(seed_ibaraki(settings.database_url, bookings=BOOKINGS * args.factor))
        print("loaded: " + ", ".join(f"{value:,} {name}" for name, value in figures.items()), flush=True)
    elif args.command == "seed":
        _seed(settings)
    elif args.command == "serve":
        if args.migrate:
            _migrate(settings)
        if args.workers > 1:
            _serve_workers(settings, args.workers)
        else:
            asyncio.run(_run(settings, api=True, relay=False, gateway=False))
    elif args.command == "gateway":
        asyncio.run(_run(settings, api=False, relay=False, gateway=True))
    elif args.command == "relay":
        asyncio.run(_run(settings, api=False, relay=True, gateway=False))
    elif args.command == "worker":
        asyncio.run(_run(settings, api=False, relay=False, gateway=False, worker=True))
    elif args.command == "web":
        asyncio.run(_run(settings, api=False, relay=False, gateway=False, web=True))
    elif args.command == "push-worker":
        asyncio.run(_run(settings, api=False, relay=False, gateway=False, push=True))
    elif args.command == "mail-worker":
        asyncio.run(_run(settings, api=False, relay=False, gateway=False, mail=True))
    elif args.command == "dev":
        _migrate(settings)
        _seed(settings)
        base = f"http://{settings.host}:{settings.port}"
        print(f"\nMusubi API:      {base}", flush=True)
        print(f"OpenAPI:         {base}/schema/openapi.json", flush=True)
        print(f"Realtime:        {settings.gateway_url}  (tickets: POST {base}/v1/realtime/tickets)", flush=True)
        print(f"Web client:      http://{settings.host}:{settings.web_port}", flush=True)
        asyncio.run(_run(settings, api=True, relay=True, gateway=True, worker=True, push=True, mail=True, web=True))


if __name__ == "__main__":
    main()
