# shellcheck shell=bash
# Shared by cluster.sh, node.sh and images.sh (sourced). The caller defines log, die, DIR,
# START_TIMEOUT and running_pid NAME (prints the pid of its live component NAME).

# Runs "$@" until it succeeds, or fails after START_TIMEOUT showing the component's log.
wait_until() {
  local what=$1 name=$2 t0=$SECONDS
  shift 2
  until "$@"; do
    if ! running_pid "$name" >/dev/null; then
      tail -n 40 "$DIR/$name.log" >&2
      die "$name exited while waiting for $what (log: $DIR/$name.log)"
    fi
    if ((SECONDS - t0 >= START_TIMEOUT)); then
      tail -n 40 "$DIR/$name.log" >&2
      die "timed out after ${START_TIMEOUT}s waiting for $what (log: $DIR/$name.log)"
    fi
    sleep 0.2
  done
}

# Installs the Debian packages named that are not installed yet (none: no apt call at all).
install_debian_packages() {
  local missing=() p status
  for p in "$@"; do
    status=$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null || true)
    [[ $status == 'install ok installed' ]] || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing Debian packages: ${missing[*]} (~1 min)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
