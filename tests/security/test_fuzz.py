from __future__ import annotations

import re

from backend.settings import Settings
from tests.processes import MusubiProcess, free_port, musubi_env
from tests.security.fuzz import all_roles_token, run_schemathesis


async def test_generated_requests_never_get_5xx_and_match_the_documented_schema(
    database_url: str, test_settings: Settings
) -> None:
    port = free_port()
    env = musubi_env(database_url, "memory://", test_settings)
    api = MusubiProcess("serve", {**env, "MUSUBI_PORT": str(port)}, port=port)
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
