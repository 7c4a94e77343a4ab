"""View models: all client behaviour, in plain Python (no Flet imports), tested against the real backend."""
