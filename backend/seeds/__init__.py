"""Demo and scale data."""
