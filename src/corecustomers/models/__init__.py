"""corecustomers.models."""
