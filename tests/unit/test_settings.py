from __future__ import annotations

import pytest

from backend.settings import Settings


def test_shelter_identity_period_after_discharge_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE", raising=False)
    assert Settings.from_env().shelter_identity_days_after_discharge == 30
    monkeypatch.setenv("MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE", "7")
    assert Settings.from_env().shelter_identity_days_after_discharge == 7
    monkeypatch.setenv("MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE", "-1")
    with pytest.raises(SystemExit):
        Settings.from_env()
