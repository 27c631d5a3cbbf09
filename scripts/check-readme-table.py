#!/usr/bin/env python3
"""Checks that the README's results table equals a fresh default comparison's, metrics only.

    python3 scripts/check-readme-table.py README.md target/ci-compare/report.md

The README shows selected rows of the summary table that `drift-bench compare` (the default
comparison) writes to report.md. Each README row is found in the fresh report by its key (data set,
mode, study where there are several, operator, temperature) and every other column must read exactly the same, except the
timings (`ms/step`), which vary from machine to machine. The metrics are deterministic (the same
bits run to run and for any number of threads), so the comparison is exact: any difference means
the README's numbers are stale and must be regenerated from the command. Exits 1 with every
difference listed, 2 when a file or table cannot be read.
"""

from __future__ import annotations

import sys

# Columns that identify a row, and columns that are timings (not compared).
KEY = ("dataset", "mode", "study", "operator", "T")
TIMINGS = {"ms/step"}


def cells(line: str) -> list[str]:
    """The stripped cells of a Markdown table row."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def first_results_table(text: str, source: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the first table whose header starts with `dataset` and has a `W2²`
    column (the summary table)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.lstrip().startswith("|"):
            header = cells(line)
            if header and header[0] == "dataset" and "W2²" in header:
                rows = []
                for row in lines[i + 2:]:
                    if not row.lstrip().startswith("|"):
                        break
                    rows.append(cells(row))
                return header, rows
    print(f"{source}: no results table (a header `| dataset | ... | W2² | ...`)", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    readme_path, report_path = argv[1], argv[2]
    try:
        readme = open(readme_path, encoding="utf-8").read()
        report = open(report_path, encoding="utf-8").read()
    except OSError as e:
        print(f"cannot read {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    r_header, r_rows = first_results_table(readme, readme_path)
    f_header, f_rows = first_results_table(report, report_path)
    problems = []
    if r_header != f_header:
        problems.append(f"columns differ:\n  README: {r_header}\n  report: {f_header}")
    else:
        # `study` is there only when the sweep has several studies.
        missing_key = [k for k in ("dataset", "operator", "T") if k not in r_header]
        if missing_key:
            print(f"{readme_path}: the table has no column {missing_key}", file=sys.stderr)
            return 2
        key_at = [r_header.index(k) for k in KEY if k in r_header]
        fresh = {tuple(row[i] for i in key_at): row for row in f_rows}
        for row in r_rows:
            key = tuple(row[i] for i in key_at)
            got = fresh.get(key)
            if got is None:
                problems.append(f"{' | '.join(key)}: no such row in the fresh report")
                continue
            for name, want, have in zip(r_header, row, got):
                if name not in TIMINGS and want != have:
                    problems.append(
                        f"{' | '.join(key)}: {name} is {want} in the README, {have} in a fresh run"
                    )
        if not r_rows:
            problems.append("the README's table has no rows")
    if problems:
        print(
            f"{readme_path}'s results table differs from {report_path} (regenerate it from the "
            "default comparison, `drift-bench compare`):",
            file=sys.stderr,
        )
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"{readme_path}: {len(r_rows)} rows equal to {report_path} (timings not compared)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
