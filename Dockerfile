# One image for every process of the platform: the user-code gRPC server (the default
# command), the run workers that DockerRunLauncher starts, the webserver, the daemon,
# the MLflow tracking server and the metrics exporter (deploy/docker-compose.yaml).
# Locked dependencies are installed before the source is copied, so a code change
# rebuilds only the last layers; the uv cache is a BuildKit cache mount.
FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project
COPY mlops_assets ./mlops_assets
COPY resources ./resources
COPY sensors ./sensors
# uv keys its cache of a local project on pyproject.toml alone: without
# --reinstall-package a source change would install the cached, stale wheel.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable --reinstall-package mlops-assets

FROM python:3.11-slim
ARG GIT_COMMIT=unknown
# DAGSTER_HOME holds the embedded instance (SQLite); the Compose stack points it at
# /opt/dagster/production, whose dagster.yaml is deploy/dagster.prod.yaml (Postgres,
# queued runs, DockerRunLauncher). Delta tables go to the /data volume.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/home \
    MLOPS_DATA_ROOT=/data/tables \
    GIT_COMMIT=$GIT_COMMIT \
    GRPC_HOST=0.0.0.0 \
    GRPC_PORT=4000
# LightGBM loads the OpenMP runtime (libgomp). Debian's stable packages get security
# fixes under one version, so pinning it would only break the build when a fix lands.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group dagster \
    && mkdir -p /opt/dagster/home/storage /opt/dagster/production/storage /data/tables /mlflow/artifacts \
    && chown -R dagster:dagster /opt/dagster /data /mlflow
COPY --from=build /opt/venv /opt/venv
WORKDIR /opt/dagster/app
COPY dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy/dagster.prod.yaml /opt/dagster/production/dagster.yaml
COPY deploy/workspace.prod.yaml /opt/dagster/production/workspace.yaml
COPY workspace.yaml ./
USER 10001:10001
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=5 \
    CMD ["python", "-m", "mlops_assets.code_server_health"]
CMD ["sh", "-c", "exec dagster code-server start -h \"$GRPC_HOST\" -p \"$GRPC_PORT\" -m mlops_assets.definitions"]
