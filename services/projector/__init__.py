"""Projector: folds pars.record-events into each record's current status and timeline."""
