"""Customers' master data, account teams, the latest analysis state and its history."""
