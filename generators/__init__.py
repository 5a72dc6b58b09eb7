"""Generators of Vigil's committed assets (development only: the wheel carries what they write)."""
