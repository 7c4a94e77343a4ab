"""The full fuzz run: several thousand generated requests against a fresh API (schemathesis).

Usage: python -m bench.fuzz_api [--max-examples 100] [--seed N]
Prints schemathesis' report; exits non-zero if any request got a 5xx or an undocumented shape.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from backend.core.crypto import new_keyring_entry
from bench.services import drop_database, scratch_database, start_musubi
from tests.processes import free_port, wait_for_port
from tests.security.fuzz import all_roles_token, run_schemathesis


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    server, database_url = await scratch_database()
    port = free_port()
    api = start_musubi(
        "serve",
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": "memory://",
            "MUSUBI_PORT": str(port),
            "MUSUBI_SECRET_KEY": "fuzz",
            "MUSUBI_IDENTITY_KEYS": new_keyring_entry("fuzz"),
        },
    )
    try:
        await wait_for_port(port)
        token = await all_roles_token(database_url)
        result = await asyncio.to_thread(
            run_schemathesis, f"http://127.0.0.1:{port}", token, args.max_examples, args.seed
        )
        print(result.stdout)
        print(result.stderr, file=sys.stderr)
        return result.returncode
    finally:
        api.terminate()
        api.wait(timeout=30)
        await drop_database(server, database_url)


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
