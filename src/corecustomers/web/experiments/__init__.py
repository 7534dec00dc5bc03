"""Proof of what works: random, stratified hold-out groups for actions and contact plans, and
the uplift report that compares held-out and treated customers.
"""
