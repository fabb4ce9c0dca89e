"""`tracking run`: a worker for any command (see runner.Runner)."""
