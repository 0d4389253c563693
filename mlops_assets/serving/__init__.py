"""Serving: which model version is the champion, and scoring batches with it."""
