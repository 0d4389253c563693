"""What a scored request gets back, per endpoint: `/predict` rows or Open Inference Protocol tensors.

Binary models answer the probability of the positive label and the label at the
model's threshold (1 or 0); multiclass models the probability of every class and
the most probable class; regression models the value. Every answer names the
model and the version that scored it.
"""

from __future__ import annotations

import numpy as np

from mlops_assets.online.errors import RequestError
from mlops_assets.online.served_model import ServedModel

PROBABILITY, PROBABILITIES, LABEL, VALUE = "probability", "probabilities", "label", "value"


def output_tensors(model: ServedModel) -> list[dict]:
    """The model's outputs as Open Inference Protocol metadata tensors."""
    if model.task == "binary":
        return [
            {"name": PROBABILITY, "datatype": "FP64", "shape": [-1]},
            {"name": LABEL, "datatype": "INT64", "shape": [-1]},
        ]
    if model.task == "multiclass":
        return [
            {"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, len(model.classes)]},
            {"name": LABEL, "datatype": "BYTES", "shape": [-1]},
        ]
    return [{"name": VALUE, "datatype": "FP64", "shape": [-1]}]


def predict_answer(model: ServedModel, scores: np.ndarray) -> dict:
    """`/predict`: one object per row, in request order."""
    answer: dict = {"model_name": model.name, "model_version": model.version}
    if model.task == "binary":
        answer["threshold"] = model.threshold
        answer["predictions"] = [
            {PROBABILITY: p, LABEL: label}
            for p, label in zip(scores.tolist(), model.labels(scores), strict=True)
        ]
    elif model.task == "multiclass":
        answer["predictions"] = [
            {PROBABILITIES: dict(zip(model.classes, row, strict=True)), LABEL: label}
            for row, label in zip(scores.tolist(), model.labels(scores), strict=True)
        ]
    else:
        answer["predictions"] = [{VALUE: v} for v in scores.tolist()]
    return answer


def _tensors(model: ServedModel, scores: np.ndarray) -> dict[str, dict]:
    rows = int(scores.shape[0])
    if model.task == "binary":
        return {
            PROBABILITY: {"shape": [rows], "datatype": "FP64", "data": scores.tolist()},
            LABEL: {"shape": [rows], "datatype": "INT64", "data": model.labels(scores)},
        }
    if model.task == "multiclass":
        return {
            PROBABILITIES: {
                "shape": [rows, len(model.classes)],
                "datatype": "FP64",
                "parameters": {"classes": ",".join(model.classes)},
                "data": scores.reshape(-1).tolist(),
            },
            LABEL: {"shape": [rows], "datatype": "BYTES", "data": model.labels(scores)},
        }
    return {VALUE: {"shape": [rows], "datatype": "FP64", "data": scores.tolist()}}


def requested_outputs(model: ServedModel, names: list[str] | None) -> list[str]:
    """The outputs an inference request asks for (all by default); an unknown one is a 400."""
    available = [tensor["name"] for tensor in output_tensors(model)]
    if names is None:
        return available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise RequestError(
            400, f"unknown output(s) {unknown}; {model.name} has {', '.join(available)}"
        )
    return names


def infer_answer(
    model: ServedModel, scores: np.ndarray, request_id: str | None, outputs: list[str]
) -> dict:
    """An Open Inference Protocol inference response with the requested output tensors."""
    tensors = _tensors(model, scores)
    answer: dict = {"model_name": model.name, "model_version": model.version}
    if request_id is not None:
        answer["id"] = request_id
    if model.task == "binary":
        answer["parameters"] = {"threshold": model.threshold}
    answer["outputs"] = [{"name": name, **tensors[name]} for name in outputs]
    return answer
