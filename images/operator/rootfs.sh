#!/bin/sh
# The operator image's Debian root file system, as a tar: bookworm's essential packages,
# Python 3.11 and the CA certificates, without documentation. Run as root (mmdebstrap).
#
# Used by both builds of the image: images/operator/Dockerfile and `make images`
# (images/build.py, which caches the tar keyed by this file's content).
#
#   images/operator/rootfs.sh OUTPUT.tar
set -eu
out=${1:?usage: rootfs.sh OUTPUT.tar}
# Same output for the same packages: mmdebstrap uses it for every timestamp it writes.
export SOURCE_DATE_EPOCH=0
exec mmdebstrap \
  --mode="${MMDEBSTRAP_MODE:-auto}" \
  --variant=essential \
  --include=python3,ca-certificates \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook='echo "vigil:x:10001:10001:vigil operator:/tmp:/usr/sbin/nologin" >> "$1/etc/passwd"' \
  --customize-hook='echo "vigil:x:10001:" >> "$1/etc/group"' \
  --customize-hook='rm -f "$1/etc/machine-id" "$1/var/lib/dbus/machine-id"' \
  bookworm "$out"
