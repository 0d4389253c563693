"""Prometheus metrics of the online service, served on its own `/metrics`.

Names follow the Prometheus conventions: the `mlops_serving_` prefix, base units
(seconds), `_total` on counters, and the label `spec` on every series, as the
exporter's metrics have, so one dashboard and one set of alert rules join them
(docs/monitoring.md lists them all). Every label combination a panel or rule
reads starts at zero, so a quiet service still shows its series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from mlops_assets.online.served_model import ServedModel

ENDPOINTS = ("predict", "infer")
REQUEST_OUTCOMES = ("scored", "rejected", "bad_request", "unavailable", "error")
ROW_OUTCOMES = ("scored", "rejected")
LOG_OUTCOMES = ("written", "dropped")
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


class ServingMetrics:
    """Counters, histograms and gauges of one service process, in a registry of its own."""

    def __init__(self, spec: str, model_name: str):
        self.spec = spec
        self.model_name = model_name
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "mlops_serving_requests",
            "Requests answered, by endpoint and outcome: scored, rejected (a row broke a rule, 422), "
            "bad_request (4xx), unavailable (no model loaded yet, 503), error (5xx).",
            ["spec", "endpoint", "outcome"],
            registry=registry,
        )
        self.rows = Counter(
            "mlops_serving_rows",
            "Request rows, by outcome: scored, or rejected with their request.",
            ["spec", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "mlops_serving_request_duration_seconds",
            "Time from a request's arrival to its answer, queueing and batching included.",
            ["spec", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_rows = Histogram(
            "mlops_serving_batch_rows",
            "Rows validated and scored together in one pass (concurrent requests are batched).",
            ["spec"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.model_version = Gauge(
            "mlops_serving_model_version",
            "Registered model version this process serves (compare mlops_champion_version).",
            ["spec", "model"],
            registry=registry,
        )
        self.model = Info(
            "mlops_serving_model",
            "The model this process serves: name, version and decision threshold.",
            ["spec"],
            registry=registry,
        )
        self.ready = Gauge(
            "mlops_serving_ready",
            "1 once a model is loaded and requests are answered (what /v2/health/ready reports).",
            ["spec"],
            registry=registry,
        )
        self.model_loads = Counter(
            "mlops_serving_model_loads",
            "Model versions loaded in the background, by outcome (success, failure).",
            ["spec", "outcome"],
            registry=registry,
        )
        self.model_loaded_at = Gauge(
            "mlops_serving_model_loaded_timestamp_seconds",
            "Unix time the serving model was swapped in.",
            ["spec"],
            registry=registry,
        )
        self.unseen = Counter(
            "mlops_serving_unseen_category_values",
            "Categorical values of scored rows that the serving model never saw in training.",
            ["spec"],
            registry=registry,
        )
        self.out_of_range = Counter(
            "mlops_serving_out_of_range_values",
            "Numeric values of scored rows outside the serving model's training range.",
            ["spec"],
            registry=registry,
        )
        self.log_rows = Counter(
            "mlops_serving_inference_log_rows",
            "Scored rows appended to the inference log (written), or given up after failed "
            "appends (dropped).",
            ["spec", "outcome"],
            registry=registry,
        )
        self.log_flush_errors = Counter(
            "mlops_serving_inference_log_flush_errors",
            "Appends to the inference log's Delta table that failed (retried at the next flush).",
            ["spec"],
            registry=registry,
        )
        self.log_pending = Gauge(
            "mlops_serving_inference_log_pending_rows",
            "Scored rows waiting for the next append to the inference log.",
            ["spec"],
            registry=registry,
        )
        for endpoint in ENDPOINTS:
            self.latency.labels(spec, endpoint)
            for outcome in REQUEST_OUTCOMES:
                self.requests.labels(spec, endpoint, outcome)
        for outcome in ROW_OUTCOMES:
            self.rows.labels(spec, outcome)
        for outcome in ("success", "failure"):
            self.model_loads.labels(spec, outcome)
        for outcome in LOG_OUTCOMES:
            self.log_rows.labels(spec, outcome)
        self.batch_rows.labels(spec)
        self.ready.labels(spec).set(0)
        self.unseen.labels(spec)
        self.out_of_range.labels(spec)
        self.log_flush_errors.labels(spec)
        self.log_pending.labels(spec).set(0)

    def answered(self, endpoint: str, outcome: str, seconds: float) -> None:
        self.requests.labels(self.spec, endpoint, outcome).inc()
        self.latency.labels(self.spec, endpoint).observe(seconds)

    def model_swapped(self, model: ServedModel) -> None:
        self.model_loads.labels(self.spec, "success").inc()
        self.model_version.clear()
        self.model_version.labels(self.spec, model.name).set(int(model.version))
        self.model.labels(self.spec).info(
            {"model": model.name, "version": model.version, "threshold": str(model.threshold)}
        )
        self.model_loaded_at.labels(self.spec).set(model.loaded_at)
        self.ready.labels(self.spec).set(1)

    def model_load_failed(self) -> None:
        self.model_loads.labels(self.spec, "failure").inc()
