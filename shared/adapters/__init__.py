"""Adapters: the only modules that talk to outside systems."""
