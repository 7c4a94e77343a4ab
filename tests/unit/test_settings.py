from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from backend.settings import VARIABLES, Settings, documentation, unknown_variables, warn_about_unknown_variables


def test_shelter_identity_period_after_discharge_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE", raising=False)
    assert Settings.from_env().shelter_identity_days_after_discharge == 30
    monkeypatch.setenv("MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE", "7")
    assert Settings.from_env().shelter_identity_days_after_discharge == 7
    monkeypatch.setenv("MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE", "-1")
    with pytest.raises(SystemExit):
        Settings.from_env()


def test_an_unset_or_empty_variable_leaves_the_default() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"MUSUBI_PORT": "", "DATABASE_URL": ""}) == Settings()


def test_values_are_read_as_the_type_each_setting_declares() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://db/musubi",
            "MUSUBI_PORT": " 9000 ",
            "MUSUBI_DATA_DIR": "/var/lib/musubi",
            "MUSUBI_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
            "MUSUBI_REDIS_SENTINELS": "a:26379,b:26379,",
            "MUSUBI_DB_ACQUIRE_TIMEOUT_MS": "250",
            "MUSUBI_IDEMPOTENCY_WAIT_MS": "1500",
            "MUSUBI_METRICS_PORT": "9100",
        }
    )
    assert settings.database_url == "postgresql://db/musubi"
    assert settings.port == 9000
    assert settings.data_dir == Path("/var/lib/musubi")
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert settings.redis_sentinels == ("a:26379", "b:26379")
    assert settings.db_acquire_timeout_s == 0.25
    assert settings.idempotency_wait_seconds == 1.5
    assert settings.metrics_port == 9100


@pytest.mark.parametrize("spelling", ["1", "true", "True", "YES", "on", " On "])
def test_a_switch_is_on_for_every_usual_spelling(spelling: str) -> None:
    assert Settings.from_env({"MUSUBI_APNS_SANDBOX": spelling, "MUSUBI_COUNT_STATEMENTS": spelling}).apns_sandbox
    assert Settings.from_env({"MUSUBI_COUNT_STATEMENTS": spelling}).count_statements


@pytest.mark.parametrize("spelling", ["0", "false", "FALSE", "no", "Off"])
def test_a_switch_is_off_for_every_usual_spelling(spelling: str) -> None:
    assert not Settings.from_env({"MUSUBI_APNS_SANDBOX": spelling}).apns_sandbox


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MUSUBI_PORT", "eighty", "MUSUBI_PORT='eighty' is not valid: Expected `int`"),
        ("MUSUBI_APNS_SANDBOX", "maybe", "MUSUBI_APNS_SANDBOX='maybe' is not valid"),
        ("MUSUBI_DB_ACQUIRE_TIMEOUT_MS", "1.5s", "MUSUBI_DB_ACQUIRE_TIMEOUT_MS="),
        ("MUSUBI_METRICS_PORT", "-1", "MUSUBI_METRICS_PORT='-1' is not valid: Expected `int` >= 0"),
        ("MUSUBI_TRUSTED_PROXIES", "10.0.0.0/8,proxy", "MUSUBI_TRUSTED_PROXIES: 'proxy' is not an IP address"),
        ("MUSUBI_SMTP_URL", "http://mail", "MUSUBI_SMTP_URL: the scheme must be smtp://"),
    ],
)
def test_an_invalid_value_stops_the_process_naming_the_variable(variable: str, value: str, says: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        Settings.from_env({variable: value})
    assert str(stopped.value).startswith(says)


def test_a_switch_refused_says_which_spellings_work() -> None:
    with pytest.raises(SystemExit, match="yes/no"):
        Settings.from_env({"MUSUBI_COUNT_STATEMENTS": "si"})


def test_every_setting_has_its_variable_and_one_line_of_documentation() -> None:
    docs = documentation()
    assert set(docs) == set(VARIABLES)
    assert VARIABLES["DATABASE_URL"] == "database_url"
    assert VARIABLES["MUSUBI_SHELTER_IDENTITY_DAYS_AFTER_DISCHARGE"] == "shelter_identity_days_after_discharge"
    assert all(line.strip() for line in docs.values())


def test_unknown_musubi_variables_are_named_with_the_setting_probably_meant() -> None:
    notes = unknown_variables({"MUSUBI_PROT": "80", "MUSUBI_PORT": "80", "MUSUBI_QQQ": "1", "HOME": "/root"})
    assert notes == [
        "MUSUBI_PROT is not a Musubi setting; did you mean MUSUBI_PORT?",
        "MUSUBI_QQQ is not a Musubi setting",
    ]


def test_unknown_variables_are_warned_about_at_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MUSUBI_SESION_TTL_MINUTES", "5")
    with caplog.at_level(logging.WARNING, logger="musubi.settings"):
        warn_about_unknown_variables()
    assert "MUSUBI_SESION_TTL_MINUTES is not a Musubi setting; did you mean MUSUBI_SESSION_TTL_MINUTES?" in caplog.text


def test_every_variable_the_deployment_sets_is_a_setting() -> None:
    root = Path(__file__).resolve().parents[2]
    text = "\n".join(path.read_text() for path in (root / "deploy").rglob("*.y*ml"))
    named = set(re.findall(r"\b(MUSUBI_[A-Z0-9_]+)\b", text))
    assert named
    assert not named - set(VARIABLES)
