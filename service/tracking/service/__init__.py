"""The tracking server."""
