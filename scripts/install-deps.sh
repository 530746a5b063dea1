#!/usr/bin/env bash
# Install what micado needs from Debian, once (a no-op when everything is there).
#   docker.io       dockerd 20.10 (Engine API 1.41) for the manager's engine and instances
#   busybox-static  the rootfs of the test and demo image (docker import, no registry)
#   iproute2        network namespaces, veth pairs and the bridge micado owns
#   libsqlite3-dev  SQLite for the embedded store (GRDB)
#   curl            the demo fetches pages with it
#   openssl         the tests check what micado's CA issues with openssl verify
#   caddy           the domain proxy for launch -d (programmed through its admin API)
#   docker-registry the private registry that build pushes to and instances pull from
#   apache2-utils   htpasswd, for the registry's bcrypt password file
#   cloud-init      the tests check every boot document micado renders with `cloud-init schema`
#   python3-pip     pip, for moto and schemathesis (Debian packages neither)
#   moto[server]    from PyPI: moto_server, the EC2 API the ec2 driver's tests run against on 127.0.0.1
#   schemathesis    from PyPI: the API fuzzed against openapi.yaml on a live manager (scripts/fuzz-api.sh)
#   libjs-chart.js  Chart.js, built into the binary for the dashboard's charts (no CDN)
#   chromium        the browser the dashboard's tests drive
#   playwright      from PyPI: drives Debian's chromium (its own browser download is not used)
#   binutils        nm: a test checks that the micado binary holds no stand-in or benchmark code
#   postgresql-15   PostgreSQL, the store of several managers; its tests start their own server
#                   (initdb in a temporary folder, a unix socket only): no cluster of Debian's is made
#                   or started (create_main_cluster = false), so nothing runs that CI did not start
set -euo pipefail
need=()
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 && file -b /bin/busybox 2>/dev/null | grep -q static || need+=(busybox-static)
command -v ip >/dev/null || need+=(iproute2)
command -v nsenter >/dev/null || need+=(util-linux)
[ -f /usr/include/sqlite3.h ] || need+=(libsqlite3-dev)
command -v curl >/dev/null || need+=(curl)
command -v file >/dev/null || need+=(file)
command -v openssl >/dev/null || need+=(openssl)
command -v caddy >/dev/null || need+=(caddy)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v cloud-init >/dev/null || need+=(cloud-init)
[ -f /usr/share/javascript/chart.js/chart.min.js ] || need+=(libjs-chart.js)
command -v chromium >/dev/null || need+=(chromium)
command -v nm >/dev/null || need+=(binutils)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql-15)
command -v setpriv >/dev/null || need+=(util-linux)
{ command -v moto_server >/dev/null && command -v schemathesis >/dev/null && python3 -c 'import playwright' 2>/dev/null; } || python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [[ " ${need[*]} " == *" postgresql-15 "* ]]; then
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/micado-no-main-cluster.conf
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v moto_server >/dev/null; then
  echo "installing: moto[server] (PyPI)" >&2
  # Debian marks its Python as externally managed (PEP 668): pip then needs --break-system-packages.
  python3 -m pip install -q 'moto[server]' 2>/dev/null || python3 -m pip install -q --break-system-packages 'moto[server]'
  command -v moto_server >/dev/null || { echo "moto_server is not on PATH after pip install" >&2; exit 1; }
fi
if ! command -v schemathesis >/dev/null; then
  echo "installing: schemathesis (PyPI)" >&2
  python3 -m pip install -q 'schemathesis>=4,<5' 2>/dev/null || python3 -m pip install -q --break-system-packages 'schemathesis>=4,<5'
  command -v schemathesis >/dev/null || { echo "schemathesis is not on PATH after pip install" >&2; exit 1; }
fi
if ! python3 -c 'import playwright' 2>/dev/null; then
  echo "installing: playwright (PyPI)" >&2
  python3 -m pip install -q 'playwright>=1.40,<2' 2>/dev/null || python3 -m pip install -q --break-system-packages 'playwright>=1.40,<2'
  python3 -c 'import playwright' || { echo "playwright is not importable after pip install" >&2; exit 1; }
fi
# Debian's docker.io enables a system dockerd; micado never uses it and starts its own.
command -v swift >/dev/null || [ -x /opt/swift/usr/bin/swift ] || { echo "Swift 6 is needed (swift.org); not found" >&2; exit 1; }
