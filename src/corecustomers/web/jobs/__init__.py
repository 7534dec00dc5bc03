"""Background jobs: rows of our own (kind, status, progress, result) run by a task worker."""
