"""The childcare tests' nursery."""

from __future__ import annotations

import pytest

from tests.integration.childcare.test_childcare import Nursery
from tests.support import Actors


@pytest.fixture
async def nursery(actors: Actors) -> Nursery:
    nursery_id = await actors.organization("nursery", municipality_id=1)
    return Nursery(nursery_id, await actors.member("nursery", "staff", nursery_id))
