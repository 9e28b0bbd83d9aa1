"""Scan stage: find photo files, decode them as displayed, hash and embed-prepare them, and
cache what was learnt by content hash."""
