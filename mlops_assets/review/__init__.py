"""Continuous model integration: what a spec change does to the model, before it merges.

`mlops review` trains the changed spec and the spec it replaces on one seeded
sample of the source, each in a throwaway Dagster home and MLflow store, and
reports what moved: data checks, row counts, features, metrics of both models on
the same rows, drift of the training window, and the production gate's verdict.

- `sampling`: the seeded row sample and the review's copy of a spec that reads it;
- `spec_versions`: the changed spec's file and the spec at a git ref;
- `platform`: one training in a throwaway home, read back as a `ReviewedModel`;
- `champion`: the serving champion of a tracking store as the base instead;
- `comparison`: features, metrics on the same rows, drift and the gate's verdict;
- `markdown`: the report, fit for a pull-request comment;
- `command`: the whole review, and its exit code.
"""
