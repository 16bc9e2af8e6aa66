#!/usr/bin/env bash
# Installs the Python peers of the training benchmark (Surprise and `implicit`) into a virtual
# environment cached under ~/.cache/netflicks (CI caches that folder), and prints its python.
# Surprise has no wheel for current Pythons: pip builds it from source, which needs a C compiler
# and Python's headers (Debian: gcc, python3-dev, python3-venv); its build dependencies (Cython,
# numpy) come from PyPI into pip's isolated build environment.
set -euo pipefail

VENV="${NETFLICKS_PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks/peers-venv}"
PYTHON="${PYTHON:-python3}"
# Pinned: the benchmark's numbers are for these versions.
PACKAGES=(numpy==2.2.6 scipy==1.15.3 implicit==0.7.3 scikit-surprise==1.1.5 threadpoolctl==3.6.0)
STAMP="$VENV/.netflicks-peers"
WANT="${PACKAGES[*]}"

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  echo "$VENV/bin/python"
  exit 0
fi

missing=()
command -v "$PYTHON" >/dev/null || missing+=("$PYTHON")
command -v gcc >/dev/null || missing+=(gcc)
if ((${#missing[@]})); then
  echo "peers: missing ${missing[*]} (Debian: apt-get install -y python3 python3-venv python3-dev gcc)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)'; then
  echo "peers: Python.h not found for $PYTHON (Debian: apt-get install -y python3-dev)" >&2
  exit 1
fi

rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
"$PYTHON" -m venv "$VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip==25.1.1 >&2
# numpy and scipy first so Surprise's source build finds nothing else to resolve at run time.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2
"$VENV/bin/python" -c 'import surprise, implicit, scipy; print("peers:", "surprise", surprise.__version__, "implicit", implicit.__version__, "scipy", scipy.__version__)' >&2
echo "$WANT" >"$STAMP"
echo "$VENV/bin/python"
