from __future__ import annotations

from backend.core.db import migration_files


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [version for version, _, _ in migration_files()]
    assert versions == list(range(1, len(versions) + 1))
