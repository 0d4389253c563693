"""The serving model, swapped whole when the `champion` alias moves.

A background thread reads the alias every few seconds. When it points at
another version (a promotion or a rollback), that version is loaded completely
in the background thread, and only then does one reference change to it. A
request takes the reference once, when it arrives, and is scored by that model
to the end, so no request fails or meets a half-loaded model during a swap. A
version that fails to load is counted and retried at the next poll while the
current model keeps serving.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable

from mlflow.tracking import MlflowClient

from mlops_assets.online.metrics import ServingMetrics
from mlops_assets.online.served_model import ServedModel
from mlops_assets.serving.champion import champion_version

DEFAULT_POLL_SECONDS = 5.0
log = logging.getLogger("mlops.serve")

Loader = Callable[[MlflowClient, str, str], ServedModel]


class ModelHolder:
    """Holds the model that serves and keeps it on the champion."""

    def __init__(
        self,
        client: MlflowClient,
        model_name: str,
        metrics: ServingMetrics,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        loader: Loader = ServedModel.load,
    ):
        self.client = client
        self.model_name = model_name
        self.metrics = metrics
        self.poll_seconds = poll_seconds
        self.loader = loader
        self.current: ServedModel | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-model-poller", daemon=True)

    def poll_once(self) -> bool:
        """Load and swap in the champion if it is not the serving version; True if swapped."""
        version = champion_version(self.client, self.model_name)
        current = self.current
        if version is None or (current is not None and current.version == version):
            return False
        try:
            model = self.loader(self.client, self.model_name, version)
        except Exception:
            self.metrics.model_load_failed()
            log.exception(
                "could not load %s version %s; still serving %s",
                self.model_name,
                version,
                current.version if current else "nothing",
            )
            return False
        self.current = model
        self.metrics.model_swapped(model)
        # The libraries and the model stay for the process's life: keeping them out of the
        # cyclic collector's generations spares requests its long full passes.
        gc.freeze()
        log.info(
            "serving %s version %s (was %s)",
            self.model_name,
            version,
            current.version if current else "none",
        )
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("could not read the champion alias of %s", self.model_name)
            self._stop.wait(self.poll_seconds)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
