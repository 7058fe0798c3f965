"""Bridges from a registry to other monitoring systems."""
