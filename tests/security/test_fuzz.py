from __future__ import annotations

import re

import pytest

from backend.core.settings import Settings
from tests.processes import MusubiProcess, free_port, musubi_env
from tests.security.fuzz import ALL_CHECKS, all_roles_token, parent_token, run_schemathesis


@pytest.mark.parametrize("role", ["parent", "admin"])
async def test_every_answer_is_the_one_documented_for_a_parent_and_an_admin(
    database_url: str, test_settings: Settings, role: str
) -> None:
    """schemathesis with all its checks: status codes, content types, headers and bodies as the
    document says, invalid requests refused, security enforced as declared — no failure at all."""
    port = free_port()
    env = musubi_env(database_url, "memory://", test_settings)
    api = MusubiProcess("serve", {**env, "MUSUBI_PORT": str(port)}, port=port)
    await api.start()
    try:
        token = await (all_roles_token if role == "admin" else parent_token)(database_url)
        result = run_schemathesis(f"http://127.0.0.1:{port}", token, max_examples=2, checks=ALL_CHECKS)
    finally:
        api.terminate()
    assert result.returncode == 0, result.stdout[-8000:]
    assert re.search(r"(\d+) generated, \1 passed", result.stdout), result.stdout[-3000:]
    if role == "admin":  # (the parent is refused most operations, which schemathesis reports the same way)
        assert "Authentication failed" not in result.stdout
