#!/usr/bin/env bash
# A local stand-in for the Dockerfile's PYTHON_IMAGE, for machines that reach no image registry:
# Debian bookworm (debootstrap, minbase) with Python from apt, as a tar for `docker import`.
# On a machine that reaches Docker Hub, the Dockerfile's default base (python:3.12-slim) is used
# and this script is not needed.
#
# usage: scripts/container_base.sh OUT.tar      (root; needs debootstrap; ~1 minute)
# The tar is left as it is when it already exists, so one CI run builds it once.
# The host's CA bundle goes in too, with a pip.conf naming it: pip inside `docker build` then
# reaches PyPI the way the host does (a TLS-inspecting proxy's CA included).
set -euo pipefail

out="${1:?usage: $0 OUT.tar}"
if [ -s "$out" ]; then
  echo "base image tar exists: $out"
  exit 0
fi
mirror="${AIOPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d "${TMPDIR:-/tmp}/aiops-base.XXXXXX")"
log="$(mktemp "${TMPDIR:-/tmp}/aiops-base-log.XXXXXX")"
trap 'rm -rf "$root" "$log" "$out.partial"' EXIT

debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
  bookworm "$root" "$mirror" >"$log" 2>&1 || {
  tail -20 "$log" >&2
  exit 1
}
bundle="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
if [ -f "$bundle" ]; then
  cp "$bundle" "$root/etc/ssl/certs/host-ca-bundle.crt"
  printf '[global]\ncert = /etc/ssl/certs/host-ca-bundle.crt\n' >"$root/etc/pip.conf"
fi
# Smaller: no apt lists, caches or docs in the image.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" -cf "$out.partial" .
mv "$out.partial" "$out"
echo "base image tar: $out ($(du -h "$out" | cut -f1))"
