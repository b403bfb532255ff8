#!/usr/bin/python3
"""Export every run of every dataset under an annbench results folder into one CSV.

    /usr/bin/python3 plots/export.py results/ --out all_runs.csv
    /usr/bin/python3 plots/export.py results/ --out -          # to stdout

Columns are those of summary.csv, with one header; values are copied as written (no rounding),
so `pandas.read_csv("all_runs.csv")` or R's `read.csv` see exactly what the runner recorded.
Ok and failed runs are both kept (filter on `status`). See plots/README.md.
"""

import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from annbench_results import find_summary_files, write_atomically  # noqa: E402

PROG = "export.py"


def read_rows(files):
    """(header, rows): every column of the files, in order of first sight."""
    header, rows = [], []
    for path in files:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            for name in reader.fieldnames or []:
                if name not in header:
                    header.append(name)
            for raw in reader:
                if not any((v or "").strip() for k, v in raw.items() if k is not None):
                    continue  # blank line
                rows.append({k: v for k, v in raw.items() if k is not None})
    return header, rows


def write_csv(stream, header, rows):
    writer = csv.DictWriter(stream, fieldnames=header, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def main(argv=None):
    p = argparse.ArgumentParser(prog=PROG, description=(
        "Every run (ok and failed) of every summary.csv under RESULTS in one CSV."))
    p.add_argument("results", metavar="RESULTS",
                   help="results root (searched recursively for summary.csv) or one summary.csv")
    p.add_argument("--out", metavar="FILE",
                   help="output CSV, '-' for stdout (default RESULTS/all_runs.csv)")
    args = p.parse_args(argv)
    if not os.path.exists(args.results):
        print("%s: error: no such file or directory: %s" % (PROG, args.results), file=sys.stderr)
        return 1
    files = find_summary_files(args.results)
    if not files:
        print("%s: error: no summary.csv found under %s" % (PROG, args.results), file=sys.stderr)
        return 1
    header, rows = read_rows(files)
    if args.out == "-":
        write_csv(sys.stdout, header, rows)
        return 0
    base = args.results if os.path.isdir(args.results) else os.path.dirname(os.path.abspath(args.results))
    out = args.out or os.path.join(base, "all_runs.csv")
    write_atomically(out, lambda f: write_csv(f, header, rows), prefix=".all_runs-", suffix=".csv")
    print(out)
    print("%s: %d run(s) from %d summary.csv file(s)" % (PROG, len(rows), len(files)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
