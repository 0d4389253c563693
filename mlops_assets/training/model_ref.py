"""A registered model version and the exact inputs it was built from."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RegisteredModel:
    """What the evaluation, the model card and a rebuild need to find a model and its data."""

    spec_name: str
    name: str
    version: str
    run_id: str
    experiment_id: str
    model_uri: str
    training_set_uri: str
    training_set_version: int
    training_set_data_version: str
    spec_fingerprint: str
    git_commit: str
    features: list[str]
    categorical: list[str]
    best_iteration: int
    decision_threshold: float
    valid_metric: float

    def to_dict(self) -> dict:
        return asdict(self)
