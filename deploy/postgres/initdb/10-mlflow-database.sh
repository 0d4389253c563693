#!/bin/sh
# Runs once, when the Postgres volume is first initialised (official image convention):
# a second database for the MLflow tracking server, owned by the same role as Dagster's.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE DATABASE \"${MLFLOW_PG_DB:-mlflow}\" OWNER \"$POSTGRES_USER\""
