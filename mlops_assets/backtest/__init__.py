"""Backtesting retraining policies by replaying history partition by partition."""
