"""Users with a role, teams (with a region and a lead), and API tokens."""
