"""Board simulator: one code base answering for every certifying board, each by its own configuration."""
