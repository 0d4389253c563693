"""Features: model inputs built from validated rows with polars."""
