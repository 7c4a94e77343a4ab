"""Ambulance-to-hospital patient handoff (救急搬送)."""
