"""corecustomers.segments."""
