"""Batch files: the formats PARS reads (.xlsx, tab-delimited .txt, Activity Report .xml) and writes back (rejection
and success files), and the checks that keep a hostile file from harming the reader. Nothing here touches Kafka or
SQL; the batch service (intake/batches/) keeps what these read."""
