"""The online service of one spec: request rows in, answers out, every scored row logged.

One batch of concurrent requests (see `batcher`) is read, prepared
(`preparation`: the batch path's validation and features), scored by the model
every request of the batch was given on arrival, answered per endpoint
(`answers`) and handed to the inference log writer, which appends off the
request path.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from mlops_assets.online.answers import infer_answer, predict_answer, requested_outputs
from mlops_assets.online.batcher import MicroBatcher
from mlops_assets.online.errors import RequestError, invalid_rows
from mlops_assets.online.inference_log import InferenceLogWriter, ScoredRows
from mlops_assets.online.metrics import ServingMetrics
from mlops_assets.online.model_holder import ModelHolder
from mlops_assets.online.preparation import ONLINE_ROW, RowPreparer
from mlops_assets.online.request_rows import RequestRows, infer_rows, predict_rows
from mlops_assets.online.request_schema import RequestSchema
from mlops_assets.online.served_model import ServedModel
from mlops_assets.online.validation import REQUEST

PREDICT, INFER = "predict", "infer"


@dataclass
class Job:
    """One request: its body, the model it was given on arrival, and when it arrived."""

    endpoint: str
    body: bytes
    model: ServedModel
    arrived: float = field(default_factory=time.perf_counter)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class Answer:
    """The HTTP status and JSON body of one request, and how it went."""

    status: int
    body: dict
    outcome: str


def _outcome(status: int) -> str:
    if status == 422:
        return "rejected"
    if status == 503:
        return "unavailable"
    return "bad_request" if status < 500 else "error"


class OnlineService:
    """Everything one `mlops serve` process runs, wired together."""

    def __init__(
        self,
        schema: RequestSchema,
        preparer: RowPreparer,
        holder: ModelHolder,
        writer: InferenceLogWriter,
        metrics: ServingMetrics,
    ):
        self.schema = schema
        self.spec = schema.spec
        self.preparer = preparer
        self.holder = holder
        self.writer = writer
        self.metrics = metrics
        self.batcher: MicroBatcher[Job, Answer] = MicroBatcher(
            self.answer_batch, group_of=lambda job: job.model, on_failure=self._failed
        )

    def start(self) -> None:
        self.writer.start()
        self.batcher.start()
        self.holder.start()

    def stop(self) -> None:
        """Stop polling, answer what is queued, then append the log's last rows."""
        self.holder.stop()
        self.batcher.stop()
        self.writer.stop()

    @staticmethod
    def error_answer(error: RequestError, model: ServedModel | None) -> Answer:
        body = error.payload()
        if model is not None:
            body = {"model_name": model.name, "model_version": model.version, **body}
        return Answer(error.status, body, _outcome(error.status))

    def _failed(self, job: Job, error: Exception) -> Answer:
        failure = RequestError(500, f"internal error: {type(error).__name__}: {error}")
        return self.error_answer(failure, job.model)

    def _parse(self, job: Job) -> RequestRows:
        if job.endpoint == PREDICT:
            return predict_rows(job.body, self.schema)
        rows = infer_rows(job.body, self.schema)
        rows.outputs = requested_outputs(job.model, rows.outputs)
        return rows

    def answer_batch(self, jobs: list[Job]) -> list[Answer]:
        """Answer jobs that share one model: parse each, prepare and score them together."""
        model = jobs[0].model
        answers: list[Answer | None] = [None] * len(jobs)
        parsed: list[tuple[int, RequestRows]] = []
        for index, job in enumerate(jobs):
            try:
                parsed.append((index, self._parse(job)))
            except RequestError as error:
                answers[index] = self.error_answer(error, model)
        if parsed:
            prepared = self.preparer.prepare([(rows, jobs[i].at) for i, rows in parsed])
            features = prepared.features
            scores = model.scores(features)
            self.metrics.batch_rows.labels(self.spec.name).observe(features.height)
            starts = np.cumsum([0, *[prepared.rows_of(k) for k in range(len(parsed))]])
            latencies = {}
            for k, (index, rows) in enumerate(parsed):
                job = jobs[index]
                if k in prepared.errors:
                    answers[index] = self.error_answer(invalid_rows(prepared.errors[k]), model)
                    self.metrics.rows.labels(self.spec.name, "rejected").inc(rows.height)
                    continue
                mine = scores[starts[k] : starts[k + 1]]
                if job.endpoint == PREDICT:
                    body = predict_answer(model, mine)
                else:
                    body = infer_answer(
                        model, mine, rows.request_id or job.request_id, rows.outputs
                    )
                answers[index] = Answer(200, body, "scored")
                self.metrics.rows.labels(self.spec.name, "scored").inc(rows.height)
                latencies[k] = time.perf_counter() - job.arrived
            if features.height:
                self.writer.add(self._scored_rows(features, scores, model, jobs, parsed, latencies))
        assert all(answer is not None for answer in answers)
        return answers  # type: ignore[return-value]

    def _scored_rows(
        self,
        features: pl.DataFrame,
        scores: np.ndarray,
        model: ServedModel,
        jobs: list[Job],
        parsed: list[tuple[int, RequestRows]],
        latencies: dict[int, float],
    ) -> ScoredRows:
        """What the inference log needs of one scored batch: per row, its request."""
        requests = features[REQUEST].to_numpy()
        count = len(parsed)
        offsets = np.cumsum([0, *[rows.height for _, rows in parsed]])[:count]
        ids = np.array([rows.request_id or jobs[i].request_id for i, rows in parsed], dtype=object)
        arrivals = np.array([jobs[i].at for i, _ in parsed], dtype="datetime64[us]")
        endpoints = np.array([jobs[i].endpoint for i, _ in parsed], dtype=object)
        latency = np.array([latencies.get(k, np.nan) for k in range(count)])
        return ScoredRows(
            features,
            scores,
            model,
            ids[requests],
            features[ONLINE_ROW].to_numpy() - offsets[requests],
            arrivals[requests],
            latency[requests],
            endpoints[requests],
        )
