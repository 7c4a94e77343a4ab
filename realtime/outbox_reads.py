"""The outbox as the realtime processes read it, written once for the relay and the gateway."""

from __future__ import annotations

from typing import Final

# The last sequence number stamped: where a relay continues and what a gateway's clients are told.
HEAD: Final = "SELECT coalesce(max(seq), 0) FROM outbox"
