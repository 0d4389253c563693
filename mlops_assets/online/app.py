"""The HTTP API: `/predict`, the Open Inference Protocol v2 endpoints and `/metrics`.

| method | path | answer |
|---|---|---|
| POST | `/predict` | `{"rows": [...]}` in, predictions with the model name and version out |
| GET | `/v2/health/live` | 200 `{"live": true}` while the process runs |
| GET | `/v2/health/ready` | 200 `{"ready": true}` once a model is loaded, else 503 |
| GET | `/v2` | server metadata |
| GET | `/v2/models/{name}[/versions/{v}]` | model metadata: serving version, inputs, outputs |
| GET | `/v2/models/{name}[/versions/{v}]/ready` | model readiness |
| POST | `/v2/models/{name}[/versions/{v}]/infer` | Open Inference Protocol inference |
| GET | `/metrics` | Prometheus metrics |

Field names follow the Open Inference Protocol's REST specification
(kserve/open-inference-protocol, `inference_rest.md`). Errors are JSON
`{"error": message}` (plus `errors`, one object per broken rule) with a 4xx
status; a row that breaks a rule is a 422, never a 500.
"""

from __future__ import annotations

import contextlib
import json
import time
from importlib import metadata

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mlops_assets.online.answers import output_tensors
from mlops_assets.online.errors import RequestError
from mlops_assets.online.served_model import ServedModel
from mlops_assets.online.service import INFER, PREDICT, Answer, Job, OnlineService

SERVER_NAME = "mlops-assets"
MAX_BODY_BYTES = 64 * 1024 * 1024


def _json(status: int, body: dict) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json"
    )


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


def build_app(service: OnlineService) -> Starlette:
    """The ASGI application of one spec's service; its lifespan starts and stops the service."""
    spec, holder, metrics = service.spec, service.holder, service.metrics
    model_name = spec.model_name

    def serving(request: Request) -> ServedModel | Response:
        """The model that serves, or the error answer: unknown model or version, none loaded."""
        name = request.path_params.get("name", model_name)
        if name != model_name:
            return _error(404, f"unknown model {name!r}; this server serves {model_name!r}")
        model = holder.current
        if model is None:
            return _error(503, f"{model_name} has no model loaded yet (no champion, or loading)")
        version = request.path_params.get("version")
        if version is not None and version != model.version:
            return _error(
                404, f"{model_name} version {version} is not served (serving {model.version})"
            )
        return model

    async def score(request: Request, endpoint: str) -> Response:
        started = time.perf_counter()
        model = serving(request)
        if isinstance(model, Response):
            outcome = "unavailable" if model.status_code == 503 else "bad_request"
            metrics.answered(endpoint, outcome, time.perf_counter() - started)
            return model
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            answer = service.error_answer(
                RequestError(413, f"the body has {len(body)} bytes; at most {MAX_BODY_BYTES}"),
                model,
            )
        else:
            answer: Answer = await service.batcher.submit(Job(endpoint, body, model, started))
        metrics.answered(endpoint, answer.outcome, time.perf_counter() - started)
        return _json(answer.status, answer.body)

    async def predict(request: Request) -> Response:
        return await score(request, PREDICT)

    async def infer(request: Request) -> Response:
        return await score(request, INFER)

    async def live(request: Request) -> Response:
        return _json(200, {"live": True})

    async def ready(request: Request) -> Response:
        loaded = holder.current is not None
        return _json(200 if loaded else 503, {"ready": loaded})

    async def server_metadata(request: Request) -> Response:
        return _json(
            200,
            {"name": SERVER_NAME, "version": metadata.version("mlops-assets"), "extensions": []},
        )

    async def model_metadata(request: Request) -> Response:
        model = serving(request)
        if isinstance(model, Response):
            return model
        inputs = [
            {"name": c.name, "datatype": c.v2_datatype, "shape": [-1]}
            for c in service.schema.columns.values()
        ]
        return _json(
            200,
            {
                "name": model.name,
                "versions": [model.version],
                "platform": "lightgbm_booster",
                "inputs": inputs,
                "outputs": output_tensors(model),
            },
        )

    async def model_ready(request: Request) -> Response:
        model = serving(request)
        if isinstance(model, Response) and model.status_code == 404:
            return model
        loaded = not isinstance(model, Response)
        return _json(200 if loaded else 503, {"name": model_name, "ready": loaded})

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def http_error(request: Request, error: HTTPException) -> Response:
        return _error(error.status_code, str(error.detail))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        service.start()
        try:
            yield
        finally:
            service.stop()

    versioned = "/v2/models/{name}/versions/{version}"
    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/v2", server_metadata),
            Route("/v2/health/live", live),
            Route("/v2/health/ready", ready),
            Route("/v2/models/{name}", model_metadata),
            Route(versioned, model_metadata),
            Route("/v2/models/{name}/ready", model_ready),
            Route(f"{versioned}/ready", model_ready),
            Route("/v2/models/{name}/infer", infer, methods=["POST"]),
            Route(f"{versioned}/infer", infer, methods=["POST"]),
            Route("/metrics", prometheus),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
