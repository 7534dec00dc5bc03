"""Privacy rights: a customer's export of everything held, erasure, and the suppression list."""
