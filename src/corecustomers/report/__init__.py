"""corecustomers.report."""
