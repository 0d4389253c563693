"""The loop's decisions as pure functions: when to retrain, and whether a challenger may serve.

`retraining` turns monitored windows into retrain signals (the drift asset, the
drift sensor and the policy backtest all call it); `gate` judges a challenger
against the baseline, the floor and the champion (the promotion asset, the
backtest and `mlops review` call it). Nothing here touches Dagster or MLflow.
"""
