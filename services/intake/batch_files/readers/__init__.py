"""Readers: a batch file's bytes into a `ParsedBatch` (batch_files/model.py), one row per learner completion."""
