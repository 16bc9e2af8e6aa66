#!/usr/bin/env bash
# Builds the project's images from the real Dockerfile without a Docker daemon (Debian's buildah)
# and imports them into the test node's containerd (test/k8s/node.sh). No registry is reachable
# here, so the Dockerfile's base image is made locally first: Debian bookworm (debootstrap
# --variant=minbase) plus the Node.js this machine has, which must be the Dockerfile's NODE_VERSION,
# laid out as the official node:<version>-bookworm-slim image is (node in /usr/local/bin, npm in
# /usr/local/lib/node_modules, user node = 1000:1000). Needs root.
#
#   test/k8s/images.sh build    base image if missing, every Dockerfile target, import into the node
#   test/k8s/images.sh deps     only the bundled dependencies' images (PostgreSQL, Kafka), imported
#   test/k8s/images.sh list     the image names the build produces
#   IMAGE=<name>:<tag> test/k8s/images.sh one TARGET
#                               one target for skaffold's custom build (skaffold.yaml, profile
#                               `local`): tagged $IMAGE in buildah's storage, imported into the
#                               node as <name>:<image id>, the reference skaffold deploys unpushed
#   test/k8s/images.sh import NAME:TAG...   import images of buildah's store (made by another
#                               script, e.g. test/monitoring/stack.sh) into the node when changed
#
# Images: netflicks-<target>:<chart appVersion> for each component target (what the chart runs),
# netflicks:latest, the shared `runtime` stage (what examples/recommendermodel.yaml names), and the
# chart's bundled development dependencies from deploy/images/: netflicks-postgres:<PG major>
# (Debian's packages) and netflicks-kafka:<Kafka version> (test/kafka/kafka.sh's Maven Central
# jars on Debian's JRE), both on debian:bookworm-slim, which is made here too.
# buildah's storage lives in $NETFLICKS_CACHE/images (layers cached across builds: a warm build
# with unchanged sources takes seconds plus the import).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
# shellcheck source=test/k8s/lib.sh
. "$SCRIPT_DIR/lib.sh"
CACHE_ROOT=${NETFLICKS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/netflicks}
STORE=$CACHE_ROOT/images
TARGETS=(operator recommend-api ingest evaluator simulator trainer)
PACKAGES=(buildah debootstrap)
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "images.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

bah() { buildah --root "$STORE/storage" --runroot "$STORE/run" --storage-driver overlay "$@"; }

dockerfile_arg() { sed -n "s/^ARG $1=//p" "$ROOT/Dockerfile" | head -n1; }
NODE_VERSION=$(dockerfile_arg NODE_VERSION)
[[ -n $NODE_VERSION ]] || die "no ARG NODE_VERSION in the Dockerfile"
BASE_IMAGE=docker.io/library/node:$NODE_VERSION-bookworm-slim
DEBIAN_IMAGE=docker.io/library/debian:bookworm-slim
# The bundled dependencies' versions: Debian bookworm's PostgreSQL, and kafka.sh's Kafka.
PG_MAJOR=15
KAFKA_VERSION=${KAFKA_VERSION:-3.9.2}
DEP_IMAGES=("netflicks-postgres:$PG_MAJOR" "netflicks-kafka:$KAFKA_VERSION")
TAG=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$ROOT/charts/netflicks/Chart.yaml")
[[ -n $TAG ]] || die "no appVersion in charts/netflicks/Chart.yaml"

image_names() {
  local t
  for t in "${TARGETS[@]}"; do echo "netflicks-$t:$TAG"; done
  echo "netflicks:latest"
  printf '%s\n' "${DEP_IMAGES[@]}"
}


# debian:bookworm-slim's counterpart: debootstrap --variant=minbase, apt lists and docs removed.
build_debian_base() {
  if bah inspect --type image "$DEBIAN_IMAGE" >/dev/null 2>&1; then log "base $DEBIAN_IMAGE: cached"; return 0; fi
  local ctr mnt t0=$SECONDS
  log "base $DEBIAN_IMAGE: debootstrap bookworm minbase (~1-2 min)"
  ctr=$(bah from scratch)
  mnt=$(bah mount "$ctr")
  if ! debootstrap --variant=minbase bookworm "$mnt" "$DEBIAN_MIRROR" >"$STORE/debootstrap.log" 2>&1; then
    tail -n 20 "$STORE/debootstrap.log" >&2
    bah rm "$ctr" >/dev/null
    die "debootstrap failed (log: $STORE/debootstrap.log)"
  fi
  rm -rf "$mnt"/var/lib/apt/lists/* "$mnt"/var/cache/apt/*.bin "$mnt"/var/cache/apt/archives/*.deb "$mnt"/usr/share/doc/* "$mnt"/usr/share/man/*
  bah umount "$ctr" >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
  bah commit --rm -q "$ctr" "$DEBIAN_IMAGE" >/dev/null
  log "base $DEBIAN_IMAGE: built in $((SECONDS - t0))s"
}

# The official node image's layout on that base, with this machine's Node.js (same version, checked).
build_base() {
  if bah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then log "base $BASE_IMAGE: cached"; return 0; fi
  local node_bin npm_dir have t0=$SECONDS
  node_bin=$(command -v node) || die "node not found"
  have=$("$node_bin" --version)
  [[ $have == "v$NODE_VERSION" ]] || die "the base image needs Node.js $NODE_VERSION (the Dockerfile's NODE_VERSION); this machine has $have"
  npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
  [[ -f $npm_dir/package.json ]] || die "npm's package dir not found (from $(command -v npm))"
  log "base $BASE_IMAGE: $DEBIAN_IMAGE + Node.js $have"
  local ctr mnt
  ctr=$(bah from --pull=never "$DEBIAN_IMAGE")
  mnt=$(bah mount "$ctr")
  install -D -m 0755 "$node_bin" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$mnt/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  chroot "$mnt" groupadd --gid 1000 node
  chroot "$mnt" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  bah umount "$ctr" >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env "NODE_VERSION=$NODE_VERSION" --cmd node "$ctr"
  bah commit --rm -q "$ctr" "$BASE_IMAGE" >/dev/null
  log "base $BASE_IMAGE: built in $((SECONDS - t0))s"
}

# A machine whose HTTPS goes through a proxy with its own CA (NODE_EXTRA_CA_CERTS) needs npm in the
# RUN steps to trust it. A home directory holding that CA and an .npmrc naming it is bind-mounted
# over /root (npm's user config; the steps run as root, and /root exists in the base image, so no
# mount point is left in a layer) for the build only: the images carry nothing of this machine.
trust_mounts() {
  local ca=${NODE_EXTRA_CA_CERTS:-} home=$STORE/build-home
  [[ -n $ca && -f $ca ]] || return 0
  rm -rf "$home"
  mkdir -p "$home/.npm"
  cp "$ca" "$home/build-ca.crt"
  printf 'cafile=/root/build-ca.crt\n' >"$home/.npmrc"
  echo "-v=$home:/root"
}

# One `buildah bud` per target; --layers reuses every shared stage after the first.
build_targets() {
  local t t0 ctx_args=(--layers --pull=never --format docker --network host -f "$ROOT/Dockerfile"
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "NODE_VERSION=$NODE_VERSION"
    --build-arg "NETFLICKS_GIT_COMMIT=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || true)")
  mapfile -t -O "${#ctx_args[@]}" ctx_args < <(trust_mounts)
  for t in runtime "${TARGETS[@]}"; do
    t0=$SECONDS
    # Fully qualified, as the kubelet asks containerd for it (netflicks:latest = docker.io/library/netflicks:latest).
    local name=docker.io/library/netflicks-$t:$TAG
    [[ $t == runtime ]] && name=docker.io/library/netflicks:latest
    if ! bah bud "${ctx_args[@]}" --target "$t" -t "$name" "$ROOT" >"$STORE/build-$t.log" 2>&1; then
      tail -n 30 "$STORE/build-$t.log" >&2
      die "buildah bud --target $t failed (log: $STORE/build-$t.log)"
    fi
    log "${name#docker.io/library/}: built in $((SECONDS - t0))s"
  done
}

# deploy/images/<name>/Dockerfile for each bundled dependency; the Kafka context gets the jars
# (hard links into the cache when on one filesystem) and kafka.sh's log4j configuration.
build_dependencies() {
  local t0 ctx=$STORE/context-kafka libs
  local bud=(--layers --pull=never --format docker --network host --build-arg "BASE_IMAGE=$DEBIAN_IMAGE")
  t0=$SECONDS
  bah bud "${bud[@]}" --build-arg "PG_MAJOR=$PG_MAJOR" -t "docker.io/library/${DEP_IMAGES[0]}" \
    "$ROOT/deploy/images/postgres" >"$STORE/build-postgres.log" 2>&1 \
    || { tail -n 30 "$STORE/build-postgres.log" >&2; die "postgres image failed (log: $STORE/build-postgres.log)"; }
  log "${DEP_IMAGES[0]}: built in $((SECONDS - t0))s"
  t0=$SECONDS
  libs=$(KAFKA_VERSION=$KAFKA_VERSION "$ROOT/test/kafka/kafka.sh" libs | tail -n1)
  [[ -f $libs/kafka_2.13-$KAFKA_VERSION.jar ]] || die "no Kafka $KAFKA_VERSION jars in '$libs'"
  rm -rf "$ctx"
  cp -a "$ROOT/deploy/images/kafka" "$ctx"
  cp -al "$libs" "$ctx/libs" 2>/dev/null || cp -a "$libs" "$ctx/libs"
  rm -f "$ctx/libs/.complete" "$ctx/libs/.lock"
  cp "$ROOT/test/kafka/log4j.properties" "$ctx/config/log4j.properties"
  bah bud "${bud[@]}" --build-arg "KAFKA_VERSION=$KAFKA_VERSION" -t "docker.io/library/${DEP_IMAGES[1]}" \
    "$ctx" >"$STORE/build-kafka.log" 2>&1 \
    || { tail -n 30 "$STORE/build-kafka.log" >&2; die "kafka image failed (log: $STORE/build-kafka.log)"; }
  rm -rf "$ctx"
  log "${DEP_IMAGES[1]}: built in $((SECONDS - t0))s"
}

# docker-archive per image (containerd dedups the shared layers on import): the names given, else
# every image. An image whose ID the node already has under that name (recorded at its last
# import) is skipped.
import_into_node() {
  local name ref id out=$STORE/export t0=$SECONDS n=0 have
  mkdir -p "$out"
  touch "$STORE/imported"
  have=$("$SCRIPT_DIR/node.sh" images)
  while read -r name; do
    ref=docker.io/library/$name
    id=$(bah inspect --type image --format '{{.FromImageID}}' "$ref")
    if grep -qx "$ref" <<<"$have" && grep -qx "$ref $id" "$STORE/imported"; then continue; fi
    rm -f "$out/image.tar"
    bah push -q "$ref" "docker-archive:$out/image.tar:$ref" >/dev/null
    "$SCRIPT_DIR/node.sh" import "$out/image.tar"
    { grep -v "^$ref " "$STORE/imported" || true; echo "$ref $id"; } >"$STORE/imported.new"
    mv "$STORE/imported.new" "$STORE/imported"
    n=$((n + 1))
  done < <(if (($#)); then printf '%s\n' "$@"; else image_names; fi)
  rm -rf "$out"
  log "imported $n changed image(s) into the node in $((SECONDS - t0))s"
}

prepare_store() {
  ((EUID == 0)) || die "needs root (buildah's storage, the node's containerd)"
  install_debian_packages "${PACKAGES[@]}"
  mkdir -p "$STORE"
  exec 8>"$STORE/.lock"
  flock 8
}

cmd_deps() {
  local t0=$SECONDS
  prepare_store
  build_debian_base
  build_dependencies
  import_into_node "${DEP_IMAGES[@]}"
  log "done in $((SECONDS - t0))s: ${DEP_IMAGES[*]}"
}

cmd_build() {
  local t0=$SECONDS
  prepare_store
  build_debian_base
  build_base
  build_targets
  build_dependencies
  import_into_node
  log "done in $((SECONDS - t0))s: $(image_names | tr '\n' ' ')"
}

# Skaffold's custom build. Skaffold finds the image by $IMAGE through the Docker API that
# test/skaffold/skaffold.sh serves from this store, then deploys <name>:<image id>: that is what
# the node gets. The build is committed once more with the skaffold tag as a label, so the image
# ID is this build's own (buildah's layer cache ignores build-arg and label values): skaffold dev
# deletes a replaced image by ID, which must never be one `build` made.
cmd_one() {
  local t=${1:-} t0=$SECONDS
  [[ " runtime ${TARGETS[*]} " == *" $t "* && -n $t ]] || die "usage: IMAGE=<name>:<tag> $0 one TARGET (one of: runtime ${TARGETS[*]})"
  [[ ${IMAGE:-} =~ ^([a-z0-9][a-z0-9._/-]*):([A-Za-z0-9_][A-Za-z0-9_.-]*)$ ]] || die "IMAGE must be <name>:<tag> (got '${IMAGE:-}')"
  local name=${BASH_REMATCH[1]} tag=${BASH_REMATCH[2]} id archive
  # Docker's normalisation: a first component without a dot, colon or `localhost` is no registry.
  [[ $name == */* ]] || name=library/$name
  [[ ${name%%/*} == *[.:]* || ${name%%/*} == localhost ]] || name=docker.io/$name
  prepare_store
  build_debian_base
  build_base
  local commit ctr args=(--layers --pull=never --format docker --network host -f "$ROOT/Dockerfile"
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "NODE_VERSION=$NODE_VERSION")
  mapfile -t -O "${#args[@]}" args < <(trust_mounts)
  if ! bah bud "${args[@]}" --target "$t" -t "$name:$tag" "$ROOT" >"$STORE/build-skaffold-$t.log" 2>&1; then
    tail -n 30 "$STORE/build-skaffold-$t.log" >&2
    die "buildah bud --target $t failed (log: $STORE/build-skaffold-$t.log)"
  fi
  commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || true)
  ctr=$(bah from --pull=never "$name:$tag")
  bah config --label "dev.netflicks.skaffold-tag=$tag" --env "NETFLICKS_GIT_COMMIT=${commit:+$commit+}skaffold.$tag" "$ctr"
  bah commit --rm -q "$ctr" "$name:$tag" >/dev/null
  id=$(bah inspect --type image --format '{{.FromImageID}}' "$name:$tag")
  id=${id#sha256:}
  archive=$(mktemp "$STORE/one-XXXXXX.tar")
  rm -f "$archive"
  bah push -q "$name:$tag" "docker-archive:$archive:$name:$id" >/dev/null
  "$SCRIPT_DIR/node.sh" import "$archive"
  rm -f "$archive"
  log "${name#docker.io/library/}:$tag built and imported into the node as :$id in $((SECONDS - t0))s"
}

case "${1:-build}" in
  build) cmd_build ;;
  deps) cmd_deps ;;
  one) shift; cmd_one "$@" ;;
  list) image_names ;;
  import) shift; (($# > 0)) || die "usage: $0 import NAME:TAG..."; prepare_store; import_into_node "$@" ;;
  *) echo "usage: $0 [build|deps|list|one TARGET|import NAME:TAG...]" >&2; exit 2 ;;
esac
