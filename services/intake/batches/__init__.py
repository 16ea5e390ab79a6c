"""The batch service: an upload taken in and its records queued (service.py), its HTTP routes (router.py), its tables
(storage.py) and the tally of its records' outcomes (outcomes.py). The file formats are batch_files/'s."""
