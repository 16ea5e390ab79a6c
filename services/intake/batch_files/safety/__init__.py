"""Checks on untrusted files before and while a reader opens them: zip bombs, DTDs and entities, depth, size."""
