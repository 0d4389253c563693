# One image for the user-code gRPC server and for run workers.
# Locked dependencies are installed before the source is copied, so a code
# change rebuilds only the last layers.
FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY mlops_assets ./mlops_assets
COPY resources ./resources
COPY sensors ./sensors
RUN uv sync --locked --no-dev --no-editable

FROM python:3.11-slim
ARG GIT_COMMIT=unknown
ENV PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    GIT_COMMIT=$GIT_COMMIT \
    GRPC_HOST=0.0.0.0 \
    GRPC_PORT=4000
RUN useradd --create-home --uid 10001 dagster \
    && mkdir -p /opt/dagster/home \
    && chown -R dagster /opt/dagster
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=dagster workspace.yaml dagster.yaml ./
RUN cp dagster.yaml /opt/dagster/home/dagster.yaml
USER dagster
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["sh", "-c", "dagster api grpc-health-check -p \"$GRPC_PORT\""]
CMD ["sh", "-c", "exec dagster code-server start -h \"$GRPC_HOST\" -p \"$GRPC_PORT\" -m mlops_assets.definitions"]
