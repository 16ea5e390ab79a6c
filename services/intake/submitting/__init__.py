"""The submission path of every channel (API completions, web services, batch files, deletes): a completion becomes
its records (completions.py), each record a SubmitRecord message (messages.py), and every message reaches
pars.submissions through intake's outbox (writer.py), in the one way written down there."""
