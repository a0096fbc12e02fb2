"""Restatements of the original code, for tests that compare the port with it."""
