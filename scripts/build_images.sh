#!/usr/bin/env bash
# `make images`: build the three images with podman where no Docker engine (nor the python
# image registry) is at hand, from a Python 3.11 base made of Debian packages.
#
#   scripts/build_images.sh [inference|users|trainer ...]    (default: all three)
#
# The base image is made once with debootstrap (Debian's python3.11, the mirror apt uses here)
# and kept as a tarball under ${XDG_CACHE_HOME:-~/.cache}/medtriage/, outside the repository;
# podman's layer cache then reuses the pip layers until pyproject.toml/requirements.lock change.
#
# Settings (environment):
#   MEDTRIAGE_BUILD_CA_BUNDLE  a PEM bundle pip must trust to reach PyPI (a TLS-inspecting
#                              proxy). Only the build stage gets it, never the images.
#   MEDTRIAGE_IMAGE_TAG        tag of the images (default: local): medtriage-NAME:TAG
#   MEDTRIAGE_DEBIAN_MIRROR    Debian mirror for debootstrap (default: the one apt uses)
#   MEDTRIAGE_PODMAN_RUNTIME   OCI runtime (default: runc when installed: crun cannot set the
#                              rlimits or use the cgroup layout of some machines)
# Prints one line per image: "image NAME SECONDS BYTES".
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=bookworm
PACKAGES=python3.11,python3.11-venv,python3-distutils,ca-certificates
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/medtriage
TAG=${MEDTRIAGE_IMAGE_TAG:-local}
CA=${MEDTRIAGE_BUILD_CA_BUNDLE:-}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build_images: %s\n' "$*" >&2; exit 1; }
command -v podman >/dev/null 2>&1 || die "podman is not installed (apt-get install podman runc)"

PODMAN=(podman)
runtime=${MEDTRIAGE_PODMAN_RUNTIME:-$(command -v runc >/dev/null 2>&1 && echo runc || true)}
[ -n "$runtime" ] && PODMAN+=(--runtime "$runtime")
[ "$(id -u)" = 0 ] && PODMAN+=(--cgroup-manager cgroupfs)
BUILD_FLAGS=(--format docker --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --layers)

debian_mirror() {
  if [ -n "${MEDTRIAGE_DEBIAN_MIRROR:-}" ]; then echo "$MEDTRIAGE_DEBIAN_MIRROR"; return; fi
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        2>/dev/null | grep -i debian | grep -v security | awk '{print $2}' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# The base: Debian's Python 3.11 with `python` on PATH, as the official slim image has it.
key=$(printf '%s\n' "$SUITE" "$PACKAGES" "base-v1" | sha256sum | cut -c1-12)
BASE=localhost/medtriage-python:3.11-$SUITE-$key
if ! "${PODMAN[@]}" image exists "$BASE"; then
  mkdir -p "$CACHE"
  tarball=$CACHE/python-3.11-$SUITE-$key.tar
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed"
    [ "$(id -u)" = 0 ] || die "debootstrap needs root to make the base image"
    mirror=$(debian_mirror)
    root=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    say "base image: debootstrap $SUITE from $mirror (once; cached in $CACHE)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >&2
    ln -sf python3.11 "$root/usr/bin/python"
    ln -sf python3.11 "$root/usr/bin/python3"
    # Nothing of this machine: debootstrap copies its resolver and host name in.
    : >"$root/etc/resolv.conf"
    echo localhost >"$root/etc/hostname"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/debootstrap \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
      "$root"/var/log/*.log "$root"/var/cache/debconf/*-old
    tar --numeric-owner -C "$root" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$root"
    trap - EXIT
  fi
  "${PODMAN[@]}" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python"]' \
    "$tarball" "$BASE" >/dev/null
fi

# The build stage's base: the same, plus the CA bundle pip must trust, when one is configured.
BUILD_BASE=$BASE
if [ -n "$CA" ]; then
  [ -r "$CA" ] || die "MEDTRIAGE_BUILD_CA_BUNDLE=$CA is not a readable file"
  ca_key=$(sha256sum "$CA" | cut -c1-12)
  BUILD_BASE=localhost/medtriage-python-build:3.11-$SUITE-$key-$ca_key
  if ! "${PODMAN[@]}" image exists "$BUILD_BASE"; then
    ctx=$(mktemp -d)
    cp "$CA" "$ctx/build-ca.pem"
    printf 'FROM %s\nCOPY build-ca.pem /etc/ssl/certs/medtriage-build-ca.pem\nENV PIP_CERT=/etc/ssl/certs/medtriage-build-ca.pem\n' \
      "$BASE" >"$ctx/Containerfile"
    "${PODMAN[@]}" build "${BUILD_FLAGS[@]}" -q -t "$BUILD_BASE" "$ctx" >/dev/null
    rm -rf "$ctx"
  fi
fi

images=("$@")
[ ${#images[@]} -gt 0 ] || images=(inference users trainer)
for name in "${images[@]}"; do
  [ -f "docker/$name.Dockerfile" ] || die "no docker/$name.Dockerfile"
  say "medtriage-$name:$TAG"
  start=$(date +%s)
  "${PODMAN[@]}" build "${BUILD_FLAGS[@]}" -f "docker/$name.Dockerfile" \
    --build-arg PYTHON_IMAGE="$BASE" --build-arg BUILD_IMAGE="$BUILD_BASE" \
    -t "medtriage-$name:$TAG" . >&2
  seconds=$(($(date +%s) - start))
  bytes=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "medtriage-$name:$TAG")
  echo "image $name $seconds $bytes"
done
