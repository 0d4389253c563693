"""Choosing the decision threshold of a binary classifier on the validation window."""

from __future__ import annotations

import numpy as np


def best_f1_threshold(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """The probability cut-off with the highest F1 on held-out rows (0.5 when undefined)."""
    from sklearn.metrics import precision_recall_curve

    if len(np.unique(y_true)) < 2:
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y_true, y_prob)
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(precision),
        where=(precision + recall) > 0,
    )
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    return float(thresholds[best]) if len(thresholds) else 0.5
