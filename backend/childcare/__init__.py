"""Temporary childcare (一時預かり保育)."""
