"""Training: the split, the LightGBM fit and the packaged model."""
