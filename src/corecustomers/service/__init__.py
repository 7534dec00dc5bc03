"""corecustomers.service."""
