"""The mlops-assets platform: dataset specs in, versioned Dagster assets out.

LightGBM's OpenMP threads spin while they wait for work by default; on a shared
host (a laptop, CI, a node with other pods) the same booster then trained in
140 s instead of 3 s. Every process of the platform imports this package before
LightGBM, so the passive wait policy is set here; an `OMP_WAIT_POLICY` already in
the environment wins. Threads per training are the spec's `training.num_threads`.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
