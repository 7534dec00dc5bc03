"""corecustomers.data."""
