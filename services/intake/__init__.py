"""Intake: the HTTP API providers and operators use; publishes submissions, reads the projection."""
