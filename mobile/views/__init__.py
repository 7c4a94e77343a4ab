"""Flet views: they render the view models in mobile/state and hold no behaviour of their own."""
