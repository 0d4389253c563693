"""Real-time inference: the champion of one spec served over HTTP.

A request row is validated by the spec's rules and turned into features by the
same code as the batch path, scored by the registered champion (swapped in the
background when the alias moves), answered, and logged to a Delta landing table
that the `inference_log` asset materializes window by window (docs/serving.md).
"""
