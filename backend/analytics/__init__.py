"""De-identified figures for the prefecture."""
