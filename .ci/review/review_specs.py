"""Reviews several specs with `make review` and joins their reports into one markdown file.

    review_specs.py --out FILE [--base REF] [--sample FRACTION] SPEC...

Each spec runs `make review SPEC=... BASE=... SAMPLE=... REVIEW_MD=...` on its own, so
one failure does not hide the others. The joined report starts with a hidden marker (the
pull-request comment is found and updated by it), then a table of results, then each
spec's own report, or the end of its log when it wrote none. It is cut to fit a GitHub
comment; the full reports stay beside it. With GITHUB_STEP_SUMMARY set, the report is
added to the job's summary too. Exits 1 when any review did not pass.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- mlops-review -->"
# GitHub refuses comments over 65,536 characters.
COMMENT_LIMIT = 60_000
LOG_LINES = 40
# The heading `mlops review` gives a review that could not run (mlops_assets/review/markdown.py).
NOT_RUN_HEADING = ": the review could not run"


@dataclass
class Review:
    """One spec's review: its exit code, its report if it wrote one, and its log."""

    spec: str
    exit_code: int
    report: Path
    log: Path

    @property
    def result(self) -> str:
        if self.exit_code == 0:
            return "passes"
        if not self.report.is_file():
            return f"failed to run (exit {self.exit_code}, no report)"
        # make turns every failing exit into its own 2; the report's heading tells them apart.
        if NOT_RUN_HEADING in self.report.read_text().partition("\n")[0]:
            return f"could not run (exit {self.exit_code})"
        return f"does not pass (exit {self.exit_code})"


def run_review(spec: str, folder: Path, base: str, sample: str) -> Review:
    """`make review` for one spec, its output kept in a log beside the report."""
    review = Review(spec, 0, folder / f"{spec}.md", folder / f"{spec}.log")
    review.report.unlink(missing_ok=True)
    command = ["make", "--no-print-directory", "review", f"SPEC={spec}", f"SAMPLE={sample}"]
    command += [f"REVIEW_MD={review.report}"] + ([f"BASE={base}"] if base else [])
    with review.log.open("w") as log:
        review.exit_code = subprocess.run(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        ).returncode
    return review


def section(review: Review) -> str:
    """The spec's report, or the end of its log when it wrote none."""
    if review.report.is_file():
        return review.report.read_text().strip()
    tail = review.log.read_text().splitlines()[-LOG_LINES:]
    body = "\n".join(tail)
    return (
        f"### {review.spec}\n\n`mlops review` wrote no report. The end of its log:\n\n"
        f"<details><summary>log</summary>\n\n```text\n{body}\n```\n</details>"
    )


def joined_report(reviews: list[Review], base: str, sample: str) -> str:
    """The marker, the table of results and every section, cut to fit a comment."""
    against = f"the specs at `{base}`" if base else "the reference of `mlops review`"
    lines = [
        MARKER,
        "## Model review",
        "",
        f"Each spec trained on a seeded {sample} sample of its rows and compared with {against}.",
        "",
        "| spec | result |",
        "|---|---|",
        *[f"| `{review.spec}` | {review.result} |" for review in reviews],
    ]
    text = "\n".join(lines) + "\n\n" + "\n\n".join(section(review) for review in reviews) + "\n"
    if len(text) > COMMENT_LIMIT:
        note = "\n\n_The report is cut here: the full reports are in the job's artifacts._\n"
        text = text[: COMMENT_LIMIT - len(note)] + note
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="the joined markdown report")
    parser.add_argument("--base", default="", help="git ref to compare with")
    parser.add_argument("--sample", default="0.2", help="fraction of rows to train on")
    parser.add_argument("specs", nargs="+")
    args = parser.parse_args(argv)

    folder = args.out.resolve().parent / "specs"
    folder.mkdir(parents=True, exist_ok=True)
    reviews = [run_review(spec, folder, args.base, args.sample) for spec in args.specs]
    text = joined_report(reviews, args.base, args.sample)
    args.out.write_text(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a") as handle:
            handle.write(text)
    for review in reviews:
        print(f"{review.spec}: {review.result}")
    return 0 if all(review.exit_code == 0 for review in reviews) else 1


if __name__ == "__main__":
    sys.exit(main())
