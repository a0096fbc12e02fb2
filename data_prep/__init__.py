"""Builds the TFRecords the real datasets train from (see build.py)."""
