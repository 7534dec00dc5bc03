"""corecustomers.insights."""
