"""Validation: the spec's rules as a Pandera schema, and the split into kept and rejected rows."""
