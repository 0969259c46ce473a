"""Repositories: small classes that keep one kind of record in Table storage."""
