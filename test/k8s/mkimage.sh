#!/usr/bin/env bash
# Writes a one-layer container image in `docker save` layout from a directory, for
# `ctr images import`: no Docker daemon, no registry.
#
#   test/k8s/mkimage.sh ROOTFS_DIR NAME:TAG OUT.tar CONFIG_JSON
#
# CONFIG_JSON is the image config's `config` object (Entrypoint, Cmd, Env, User, WorkingDir,
# ExposedPorts...). Every file is owned by root and dated 1970, so the same rootfs and config give
# the same image ID.
set -euo pipefail
(($# == 4)) || { echo "usage: $0 ROOTFS_DIR NAME:TAG OUT.tar CONFIG_JSON" >&2; exit 2; }
rootfs=$1 ref=$2 out=$3 config=$4
[[ -d $rootfs ]] || { echo "mkimage.sh: no directory $rootfs" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t top < <(cd "$rootfs" && ls -A)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=pax \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  -C "$rootfs" -cf "$work/layer.tar" -- "${top[@]}"
layer_sha=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir -p "$work/image/$layer_sha"
mv "$work/layer.tar" "$work/image/$layer_sha/layer.tar"
node -e '
  const [config, diffId] = process.argv.slice(1);
  const epoch = "1970-01-01T00:00:00Z";
  process.stdout.write(JSON.stringify({
    architecture: "amd64", os: "linux", created: epoch, config: JSON.parse(config),
    rootfs: { type: "layers", diff_ids: [diffId] },
    history: [{ created: epoch, created_by: "test/k8s/mkimage.sh" }],
  }));' "$config" "sha256:$layer_sha" >"$work/config.json"
config_sha=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/image/$config_sha.json"
node -e 'const [c, r, l] = process.argv.slice(1); process.stdout.write(JSON.stringify([{ Config: c, RepoTags: [r], Layers: [l] }]));' \
  "$config_sha.json" "$ref" "$layer_sha/layer.tar" >"$work/image/manifest.json"
tar --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$work/image" -cf "$out" manifest.json "$config_sha.json" "$layer_sha"
echo "mkimage.sh: $ref -> $out (layer $(($(stat -c %s "$work/image/$layer_sha/layer.tar") / 1000000)) MB, image sha256:$config_sha)" >&2
