"""Batch files: upload, parse, track per-record outcomes, write rejection and success files."""
