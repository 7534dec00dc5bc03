"""Data sources and analysis runs: register a source, run it now or on a schedule."""
