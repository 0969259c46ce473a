"""Helpers shared by the tests (no tests here): the app as the tests drive it, fakes, fixtures' data,
reference material, and scripts the tests run in other processes."""
