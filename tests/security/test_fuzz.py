from __future__ import annotations

import re

from backend.settings import Settings
from tests.processes import MusubiProcess, free_port
from tests.security.fuzz import all_roles_token, run_schemathesis


async def test_generated_requests_never_get_5xx_and_match_the_documented_schema(
    database_url: str, test_settings: Settings
) -> None:
    port = free_port()
    api = MusubiProcess(
        "serve",
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": "memory://",
            "MUSUBI_PORT": str(port),
            "MUSUBI_SECRET_KEY": test_settings.secret_key or "",
            "MUSUBI_IDENTITY_KEYS": test_settings.identity_keys or "",
            "MUSUBI_ARGON2_TIME_COST": "1",
            "MUSUBI_ARGON2_MEMORY_KIB": "1024",
            "MUSUBI_ARGON2_PARALLELISM": "1",
            "MUSUBI_LOG_LEVEL": "WARNING",
        },
        port=port,
    )
    await api.start()
    try:
        token = await all_roles_token(database_url)
        result = run_schemathesis(f"http://127.0.0.1:{port}", token, max_examples=3)
    finally:
        api.terminate()
    assert result.returncode == 0, result.stdout[-5000:]
    generated = re.search(r"(\d+) generated", result.stdout)
    assert generated is not None
    assert int(generated.group(1)) > 500
    assert "Authentication failed" not in result.stdout
