"""Ingestion: reading a spec's source into a raw batch, as the source said it."""
