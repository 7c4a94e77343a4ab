from __future__ import annotations

import pytest

from backend.mail.transport import parse_smtp_url


def test_submission_port_with_mandatory_starttls_and_percent_encoded_login() -> None:
    target = parse_smtp_url("smtp://mailer%40city.jp:p%3Ass@relay.example.jp:587?starttls=true&timeout=7")
    assert (target.hostname, target.port, target.use_tls, target.start_tls) == ("relay.example.jp", 587, False, True)
    assert (target.username, target.password, target.timeout_s) == ("mailer@city.jp", "p:ss", 7.0)


def test_smtps_means_tls_from_the_first_byte_on_465() -> None:
    target = parse_smtp_url("smtps://u:p@relay.example.jp")
    assert (target.port, target.use_tls, target.start_tls) == (465, True, False)


@pytest.mark.parametrize(
    "url",
    ["http://relay", "smtp://", "smtp://relay?starttls=maybe", "smtp://relay?tls=1", "smtps://relay?starttls=true",
     "smtp://relay?timeout=0", "smtp://relay:port"],
)  # fmt: skip
def test_bad_urls_are_refused_without_echoing_the_password(url: str) -> None:
    with pytest.raises(ValueError, match=r".") as error:
        parse_smtp_url(url)
    assert "p:ss" not in str(error.value)
