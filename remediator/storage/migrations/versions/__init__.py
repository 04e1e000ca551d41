"""Alembic revisions, oldest first; ``r<id>_<what>.py``."""
