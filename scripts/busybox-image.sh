#!/usr/bin/env bash
# Build the image TAG (default busybox:local) from Debian's busybox-static with
# `docker import`: no registry needed. Its /www holds an index page for httpd.
#   busybox-image.sh DOCKER_HOST [TAG]
set -euo pipefail
HOST=${1:?usage: busybox-image.sh DOCKER_HOST [TAG]}; TAG=${2:-busybox:local}
D() { docker -H "$HOST" "$@"; }
D image inspect "$TAG" >/dev/null 2>&1 && exit 0
ROOT=$(mktemp -d); trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,etc,tmp,www}
cp /bin/busybox "$ROOT/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$ROOT/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOT/etc/passwd"
echo 'root:x:0:' > "$ROOT/etc/group"
echo 'hello from busybox:local' > "$ROOT/www/index.html"
tar -C "$ROOT" -c . | D import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - "$TAG" >/dev/null
D image inspect --format '{{.Id}}' "$TAG"
