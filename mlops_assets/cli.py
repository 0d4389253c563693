"""`mlops`: run a spec's graph headless, and rebuild a past model version.

Every command works against the project's Dagster instance (`DAGSTER_HOME`,
default `./.dagster_home`), so what it materializes shows up in the UI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_assets.governance.audit import AuditTrail


def _ensure_dagster_home() -> Path:
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    return home


def _progress(message: str) -> None:
    print(f"[mlops {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _partition_range(partitions_def, start: str | None, end: str | None) -> tuple[str, str]:
    keys = partitions_def.get_partition_keys()
    if not keys:
        raise ValueError("the spec's time range has no partitions yet")
    lo = dt.datetime.fromisoformat(start) if start else None
    hi = dt.datetime.fromisoformat(end) if end else None
    chosen = []
    for key in keys:
        window = partitions_def.time_window_for_partition_key(key)
        w_start, w_end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
        if (lo is None or w_end > lo) and (hi is None or w_start <= hi):
            chosen.append(key)
    if not chosen:
        raise ValueError(
            f"no partition between {start} and {end} (partitions {keys[0]} .. {keys[-1]})"
        )
    return chosen[0], chosen[-1]


def _metadata_value(value: Any) -> Any:
    return getattr(value, "value", value)


def _platform_message(error: Any) -> str | None:
    """The platform's own message in a Dagster error's cause chain (outermost first), on one line.

    The platform's errors name the file, the column or line and the rule; a library error
    underneath them (polars, pydantic) only repeats the symptom, so it is not shown.
    """
    from mlops_assets.errors import platform_error_names

    names = platform_error_names()
    while error is not None:
        message = (getattr(error, "message", "") or "").strip()
        cls_name = getattr(error, "cls_name", None) or ""
        if cls_name in names or "(rule: " in message:
            first = message.splitlines()[0] if message else ""
            prefix = f"{cls_name}: "
            return first.split(prefix, 1)[1] if prefix in first else first
        error = getattr(error, "cause", None) or getattr(error, "context", None)
    return None


def _root_message(error: Any) -> str:
    """Why a step failed, on one line: the platform's message, else the innermost cause."""
    mine = _platform_message(error)
    if mine:
        return mine
    while getattr(error, "cause", None) is not None:
        error = error.cause
    lines = [line for line in error.message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "run failed"


def _rows(metadata: dict[str, Any] | None) -> int | None:
    if not metadata:
        return None
    return metadata.get("dagster/row_count", metadata.get("rows_in_run"))


def _phases(names, tags: dict[str, str]) -> list[tuple[str, list, dict[str, str]]]:
    """The runs of one `mlops run`: data over the range, training, then scoring over the range.

    Partitioned and unpartitioned assets go in separate runs: Dagster plans a
    single-run backfill per partition for every asset in the run, unpartitioned
    ones included, which would store hundreds of needless planned events.
    """
    data = [names.raw, names.validated, names.rejected_rows, names.features]
    training = names.training_assets
    scoring = [names.predictions, names.drift]
    if names.partitions_def is None:
        return [("materializing the whole graph", data + training + scoring, tags)]
    base = {k: v for k, v in tags.items() if not k.startswith("dagster/asset_partition_range")}
    return [
        ("materializing raw, validated, rejected_rows and features", data, tags),
        ("materializing training_set, model, evaluation, promotion and model_card", training, base),
        ("materializing predictions and drift", scoring, tags),
    ]


def _summarize_failure(events: list, failed_checks: list[dict[str, Any]]) -> str:
    errors = [
        _root_message(e.step_failure_data.error)
        for e in events
        if e.is_step_failure and e.step_failure_data and e.step_failure_data.error
    ]
    blocking = [c for c in failed_checks if c["severity"] == "ERROR"]
    if blocking:
        return "blocking check failed: " + "; ".join(
            f"{c['check']}: {c['description']}" for c in blocking
        )
    return errors[0] if errors else "run failed"


def cli_user(user: str | None = None) -> str:
    """Who is running an `mlops` command, as recorded in the audit trail: `cli:LOGIN` unless named."""
    import getpass

    return user or f"cli:{getpass.getuser()}"


def run_spec(
    spec_name: str,
    start: str | None = None,
    end: str | None = None,
    user: str | None = None,
    *,
    scoring: bool = True,
) -> dict[str, Any]:
    """Materialize a spec's whole graph and summarize what it produced.

    `scoring=False` stops after training (no predictions or drift), as `mlops review` does.
    """
    _ensure_dagster_home()
    import dagster as dg

    from mlops_assets.assets.naming import SpecAssets
    from mlops_assets.instance.run_workers import RUN_HOST_TAG, fail_dead_runs, this_host
    from mlops_assets.spec_job import reconstructable_spec_job
    from mlops_assets.specs import find_spec
    from sensors.bootstrap import PARTITION_RANGE_END, PARTITION_RANGE_START

    spec = find_spec(spec_name)
    names = SpecAssets(spec)
    tags = {
        "mlops/spec": spec.name,
        "mlops/trigger": "cli",
        "mlops/user": cli_user(user),
        RUN_HOST_TAG: this_host(),
    }
    if names.partitions_def is not None:
        first, last = _partition_range(names.partitions_def, start, end)
        tags |= {PARTITION_RANGE_START: first, PARTITION_RANGE_END: last}
    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    for run_id in fail_dead_runs(instance):
        _progress(f"run {run_id} had lost its process: marked failed")
    job = reconstructable_spec_job(spec.name)
    materialized: dict[str, dict[str, Any]] = {}
    checks: list = []
    run_ids: list[str] = []
    failure: str | None = None
    for label, selection, run_tags in _phases(names, tags):
        if not scoring:
            selection = [key for key in selection if key not in (names.predictions, names.drift)]
            if not selection:
                continue
        span = f" for partitions {first} .. {last}" if PARTITION_RANGE_START in run_tags else ""
        _progress(f"{spec.name}: {label}{span}")
        with dg.execute_job(
            job,
            instance,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            tags=run_tags,
            asset_selection=selection,
            raise_on_error=False,
        ) as result:
            run_ids.append(result.run_id)
            for event in result.get_asset_materialization_events():
                mat = event.event_specific_data.materialization
                materialized[mat.asset_key.path[-1]] = {
                    k: _metadata_value(v) for k, v in mat.metadata.items()
                }
            evaluations = result.get_asset_check_evaluations()
            checks += evaluations
            if not result.success:
                failed_here = [_check_row(c) for c in evaluations if not c.passed]
                failure = _summarize_failure(result.all_events, failed_here)
        if failure:
            break
    failed = [_check_row(c) for c in checks if not c.passed]
    summary: dict[str, Any] = {
        "spec": spec.name,
        "run_ids": run_ids,
        "success": failure is None,
        "partitions": [tags.get(PARTITION_RANGE_START), tags.get(PARTITION_RANGE_END)],
        "rows_ingested": _rows(materialized.get("raw")),
        "rows_rejected": _rows(materialized.get("rejected_rows")),
        "model_name": materialized.get("model", {}).get("model_name"),
        "model_version": materialized.get("model", {}).get("model_version"),
        "promotion": materialized.get("promotion", {}).get("decision"),
        "champion_version": materialized.get("promotion", {}).get("champion_version"),
        "metrics": {
            k.removeprefix("test_"): v
            for k, v in materialized.get("evaluation", {}).items()
            if k.startswith("test_") and k != "test_rows"
        },
        "checks_passed": sum(c.passed for c in checks),
        "checks_failed": len(failed),
        "failed_checks": failed,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if failure:
        summary["error"] = failure
    return summary


def _check_row(check: Any) -> dict[str, Any]:
    return {
        "check": f"{check.asset_key.to_user_string()}:{check.check_name}",
        "severity": check.severity.value,
        "description": check.description,
    }


def rebuild(spec_name: str, version: str) -> dict[str, Any]:
    _ensure_dagster_home()
    from mlops_assets.platform_resources import build_resources
    from mlops_assets.reproduce import rebuild_model_version
    from mlops_assets.specs import find_spec

    resources = build_resources()
    return rebuild_model_version(
        find_spec(spec_name), version, resources["delta"], resources["mlflow_tracking"]
    )


def rollback_champion(
    spec_name: str, to_version: str | None, reason: str, user: str | None = None
) -> dict[str, Any]:
    """Move the champion alias back and record the move in MLflow and in the promotion asset's history."""
    _ensure_dagster_home()
    import dagster as dg

    from mlops_assets.assets.naming import SpecAssets
    from mlops_assets.platform_resources import build_resources
    from mlops_assets.serving.champion import rollback
    from mlops_assets.specs import find_spec

    spec = find_spec(spec_name)
    client = build_resources()["mlflow_tracking"].client()
    actor = cli_user(user)
    move = rollback(client, spec.model_name, to_version, reason=reason, actor=actor)
    dg.DagsterInstance.get().report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=SpecAssets(spec).promotion,
            description=f"rollback: champion v{move.from_version} -> v{move.to_version}",
            metadata={
                "decision": "rollback",
                "champion_before": str(move.from_version),
                "champion_version": dg.MetadataValue.int(int(move.to_version)),
                "trigger": "rollback",
                "actor": actor,
                "reason": reason,
            },
        )
    )
    return {"spec": spec.name, **move.to_dict()}


def audit(spec_name: str) -> AuditTrail:
    """Every recorded decision about a spec's champion, oldest first (see docs/governance.md)."""
    _ensure_dagster_home()
    import dagster as dg

    from mlops_assets.assets.naming import SpecAssets
    from mlops_assets.governance.audit import audit_trail
    from mlops_assets.platform_resources import build_resources
    from mlops_assets.specs import find_spec

    spec = find_spec(spec_name)
    client = build_resources()["mlflow_tracking"].client()
    return audit_trail(
        dg.DagsterInstance.get(), client, spec.name, spec.model_name, SpecAssets(spec).promotion
    )


def backtest(spec_name: str, policies: list[str], warmup: int | None, every: int) -> dict[str, Any]:
    """Materialize the policy backtest asset of a spec and return its summary."""
    _ensure_dagster_home()
    import dagster as dg

    from mlops_assets.assets.naming import SpecAssets
    from mlops_assets.pipeline import build_spec_assets
    from mlops_assets.platform_resources import build_resources
    from mlops_assets.specs import find_spec

    spec = find_spec(spec_name)
    key = SpecAssets(spec).key("policy_backtest")
    shown = "default" if warmup is None else f"{warmup} windows"
    _progress(f"{spec.name}: replaying {', '.join(policies)} (warm-up: {shown})")
    result = dg.materialize(
        build_spec_assets(spec),
        selection=[key],
        instance=dg.DagsterInstance.get(),
        resources=build_resources(),
        tags={"mlops/spec": spec.name, "mlops/trigger": "backtest"},
        raise_on_error=False,
        run_config={
            "ops": {
                f"{spec.name}__policy_backtest": {
                    "config": {
                        "policies": policies,
                        "warmup_partitions": warmup,
                        "schedule_every": every,
                    }
                }
            },
            "loggers": {"console": {"config": {"log_level": "INFO"}}},
        },
    )
    if not result.success:
        return {"spec": spec.name, "error": _summarize_failure(result.all_events, [])}
    [event] = result.get_asset_materialization_events()
    metadata = event.event_specific_data.materialization.metadata
    import polars as pl

    from mlops_assets.assets.metadata import table_rows
    from mlops_assets.evaluation import markdown_table

    summary = markdown_table(pl.DataFrame(table_rows(metadata["summary"])))
    return {"spec": spec.name, "run_id": result.run_id, "summary": summary}


def list_specs() -> int:
    """Print every spec that loads; name every broken spec file on stderr and exit 1."""
    from mlops_assets.specs import load_spec_catalog

    catalog = load_spec_catalog()
    for _, spec in catalog.specs:
        print(f"{spec.name}\t{spec.target.task}\t{spec.source.uri}")
    for broken in catalog.broken:
        print(f"mlops specs: broken spec file: {broken.reason}", file=sys.stderr)
    return 1 if catalog.broken else 0


def review(args: argparse.Namespace) -> int:
    """`mlops review`: the report of a spec change (mlops_assets/review); its exit code."""
    from mlops_assets.review.command import ReviewRequest, run_review

    request = ReviewRequest(
        spec_name=args.spec,
        base_ref=args.base,
        fraction=args.sample,
        seed=args.seed,
        spec_file=args.spec_file,
    )
    return run_review(request, run_spec, args.markdown)


def serve(spec_name: str, host: str, port: int, poll_seconds: float) -> None:
    """Serve a spec's champion over HTTP until SIGINT or SIGTERM (docs/serving.md)."""
    _ensure_dagster_home()
    # LightGBM's OpenMP threads otherwise spin between requests, taking a core from the server.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # A request's few rows gain nothing from polars' thread pool, and handing each query to it
    # costs more than the query (docs/serving.md); read once, when polars is first imported.
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    from mlops_assets.assets.naming import SpecAssets
    from mlops_assets.online.server import build_service, run_server
    from mlops_assets.specs import find_spec

    spec = find_spec(spec_name)
    run_server(build_service(spec, SpecAssets(spec).raw, poll_seconds), host, port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="materialize a spec's whole graph headless")
    run.add_argument("--spec", required=True)
    run.add_argument("--start", help="first day to ingest (YYYY-MM-DD); default the spec's start")
    run.add_argument(
        "--end", help="last day to ingest (YYYY-MM-DD, inclusive); default the last partition"
    )
    run.add_argument(
        "--json", action="store_true", help="print one JSON summary as the last stdout line"
    )
    run.add_argument("--user", help="who to record as launching the run (default: cli:LOGIN)")
    again = commands.add_parser(
        "rebuild", help="retrain a registered model version from its recorded inputs"
    )
    again.add_argument("--spec", required=True)
    again.add_argument("--version", required=True)
    again.add_argument("--json", action="store_true")
    back = commands.add_parser(
        "rollback", help="give the champion alias back to an earlier version"
    )
    back.add_argument("--spec", required=True)
    back.add_argument("--to", help="version to serve (default: the previous champion)")
    back.add_argument("--reason", default="manual rollback", help="why, recorded with the move")
    back.add_argument("--user", help="who to record as rolling back (default: cli:LOGIN)")
    back.add_argument("--json", action="store_true")
    trail = commands.add_parser(
        "audit", help="who or what changed the champion, when, why, with which evidence"
    )
    trail.add_argument("--spec", required=True)
    trail.add_argument("--json", action="store_true", help="print the trail as one JSON object")
    replay = commands.add_parser("backtest", help="replay history under retraining policies")
    replay.add_argument("--spec", required=True)
    replay.add_argument(
        "--policy",
        action="append",
        choices=["never", "scheduled", "drift"],
        help="policy to replay (repeatable; default all three)",
    )
    replay.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="windows the first model is trained on (default 60, or half of a shorter history)",
    )
    replay.add_argument(
        "--every", type=int, default=7, help="partitions between scheduled retrains"
    )
    replay.add_argument("--json", action="store_true")
    check = commands.add_parser(
        "review",
        help="train a spec change on a sample, compare it with its base; exit 1 if the gate rejects",
    )
    check.add_argument("--spec", required=True)
    check.add_argument(
        "--base",
        help="git ref of the spec to compare with (default: the champion when "
        "MLFLOW_TRACKING_URI is set, else HEAD)",
    )
    check.add_argument(
        "--sample", type=float, default=0.2, help="fraction of the source's rows to train on"
    )
    check.add_argument("--seed", type=int, default=42, help="seed of the row sample")
    check.add_argument("--markdown", type=Path, help="also write the report to this file")
    check.add_argument(
        "--spec-file", type=Path, help="review this spec file instead of the loaded one"
    )
    commands.add_parser("specs", help="list the specs the platform loads")
    exporter = commands.add_parser(
        "exporter", help="serve Prometheus metrics of every spec on http://HOST:PORT/metrics"
    )
    exporter.add_argument("--host", default="127.0.0.1")
    exporter.add_argument("--port", type=int, default=9108)
    exporter.add_argument(
        "--interval", type=float, default=15.0, help="seconds between refreshes of the metrics"
    )
    dev = commands.add_parser(
        "dev",
        help="start the Dagster UI and daemon, the MLflow UI and the exporter; Ctrl+C stops all",
    )
    dev.add_argument("--host", default="127.0.0.1", help="Dagster UI address")
    dev.add_argument("--port", type=int, default=3000, help="Dagster UI port")
    dev.add_argument("--mlflow-port", type=int, default=5000, help="MLflow UI port")
    dev.add_argument("--exporter-port", type=int, default=9108, help="metrics exporter port")
    dev.add_argument("--workspace", type=Path, default=Path("workspace.yaml"))
    dev.add_argument(
        "--specs",
        type=Path,
        default=Path("specs"),
        help="spec folder to load (when MLOPS_SPECS_PATH is unset); created if missing",
    )
    dev.add_argument(
        "--grace-seconds",
        type=float,
        default=5.0,
        help="how long servers may take to stop before they are killed",
    )
    server = commands.add_parser(
        "serve", help="serve a spec's champion over HTTP (/predict, Open Inference Protocol v2)"
    )
    server.add_argument("--spec", required=True)
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8000)
    server.add_argument(
        "--poll-seconds",
        type=float,
        default=5.0,
        help="seconds between reads of the champion alias",
    )
    args = parser.parse_args(argv)
    try:
        if args.command == "specs":
            return list_specs()
        if args.command == "dev":
            from mlops_assets.devloop.services import DevSettings, run_dev

            settings = DevSettings(
                host=args.host,
                port=args.port,
                mlflow_port=args.mlflow_port,
                exporter_port=args.exporter_port,
                workspace=args.workspace,
                specs_dir=args.specs,
            )
            return run_dev(settings, args.grace_seconds)
        if args.command == "serve":
            serve(args.spec, args.host, args.port, args.poll_seconds)
            return 0
        if args.command == "exporter":
            _ensure_dagster_home()
            from mlops_assets.monitoring import run_exporter

            run_exporter(args.host, args.port, args.interval)
            return 0
        if args.command == "review":
            return review(args)
        if args.command == "run":
            summary = run_spec(args.spec, args.start, args.end, args.user)
        elif args.command == "backtest":
            policies = args.policy or ["never", "scheduled", "drift"]
            summary = backtest(args.spec, policies, args.warmup, args.every)
        elif args.command == "rollback":
            summary = rollback_champion(args.spec, args.to, args.reason, args.user)
        elif args.command == "audit":
            from mlops_assets.governance.audit import render_audit

            trail = audit(args.spec)
            print(json.dumps(trail.to_dict()) if args.json else render_audit(trail))
            return 0
        else:
            summary = rebuild(args.spec, args.version)
    except Exception as error:
        print(f"mlops {args.command}: error: {str(error).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    if summary.get("error"):
        print(f"mlops {args.command}: failed: {summary['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
