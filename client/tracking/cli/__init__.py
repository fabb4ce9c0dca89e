"""The `tracking` command."""
