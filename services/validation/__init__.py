"""Validation: checks each submitted learner record against the PARS rules and decides its first state."""
