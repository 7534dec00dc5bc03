"""The append-only audit trail: every change, profile view, search and export."""
