"""Health of the user-code server: healthy only when it serves the platform's definitions.

`dagster api grpc-health-check` only pings the server, which also answers while it holds a
load error (a missing system library, a broken spec import), so a container would report
healthy with no assets. This asks the server for its repositories instead and fails when it
returns a load error. The image's HEALTHCHECK runs `python -m mlops_assets.code_server_health`.
"""

import os
import sys

from dagster._api.list_repositories import sync_list_repositories_grpc
from dagster._grpc.client import DagsterGrpcClient


def code_server_problem(host: str, port: int) -> str | None:
    """None when the server at host:port lists its repositories, else what went wrong."""
    try:
        response = sync_list_repositories_grpc(DagsterGrpcClient(port=port, host=host))
    except Exception as error:  # any failure means the location cannot be used
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0][:500]}"
    if not response.repository_symbols:
        return "the code server serves no repository"
    return None


def main() -> int:
    port = int(os.environ.get("GRPC_PORT", "4000"))
    problem = code_server_problem("127.0.0.1", port)
    if problem:
        print(f"code server on port {port} is unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
