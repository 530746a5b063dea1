#!/usr/bin/env bash
# Start or stop a Docker engine for micado in its own network namespace.
#
#   engine.sh up   NAME IP [MEM_MIB]   start dockerd in netns micado-NAME at IP on the bridge
#   engine.sh down NAME                stop it by its pidfile, kill what is left in its
#                                      namespace, unmount and delete its state, namespace, veth
#   engine.sh bridge-down              delete the bridge (when no engine uses it any more)
#
# Settings (environment):
#   MICADO_STATE    state folder (default /tmp/micado-engines); the engine lives in $MICADO_STATE/NAME
#   MICADO_BRIDGE   bridge name (default micado0);  MICADO_BRIDGE_CIDR  its address (default 10.213.0.1/24)
#
# The engine gets its own data root, exec root, socket, pidfile, config file and cgroup
# parent. It advertises the generic resource mem=MEM_MIB (MiB) that micado's launches reserve.
# Its default bridge is a /20 inside its namespace (4,094 containers; Docker's /24 stops at 253).
# Pulls go to a dead proxy on loopback, so no image ever leaves or enters from outside.
# Prints the engine's socket on success.
set -euo pipefail
STATE=${MICADO_STATE:-/tmp/micado-engines}
BRIDGE=${MICADO_BRIDGE:-micado0}
BRIDGE_CIDR=${MICADO_BRIDGE_CIDR:-10.213.0.1/24}
PREFIX=${BRIDGE_CIDR#*/}
BRIDGE_IP=${BRIDGE_CIDR%/*}
SUBNET="${BRIDGE_IP%.*}.0/$PREFIX"

cmd=${1:-}; shift || true

wait_for() {  # wait_for SECONDS PID CMD...: retry CMD until it succeeds, PID dies, or time runs out
  local end=$(( $(date +%s) + $1 )) pid=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -ge "$end" ] && return 1
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
}

# The host side of an engine's veth: interface names stop at 15 characters, so a long NAME
# is named by a digest of all of it (two names that share their first characters differ).
veth_of() {
  if [ ${#1} -le 11 ]; then echo "mcd-$1"; else echo "mcd-$(printf '%s' "$1" | sha256sum | cut -c1-11)"; fi
}

# Whether netns $1 exists: the exact name, not a prefix of another (micado-a is not micado-a-b).
netns_exists() { [ -e "/run/netns/$1" ]; }

# Whether PID $1 is still the dockerd started with pidfile $2 (a recycled pid is someone else).
is_our_dockerd() {
  [ -r "/proc/$1/cmdline" ] && grep -qxF -- "$2" <<<"$(tr '\0' '\n' <"/proc/$1/cmdline")"
}

bridge_up() {
  # The bridge's address on another interface is another run's network: two would route apart.
  local holder
  holder=$(ip -4 -o addr | awk -v ip="$BRIDGE_IP" '{split($4, a, "/"); if (a[1] == ip) print $2}' | grep -vx "$BRIDGE" || true)
  [ -z "$holder" ] || { echo "engine.sh: $BRIDGE_IP is already on $holder (another run's?)" >&2; exit 1; }
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  # (grep reads a string, not a pipe: under pipefail, `ip … | grep -q` fails when grep stops
  # reading before ip has written all, and the address would be added twice)
  grep -qF "inet $BRIDGE_IP/" <<<"$(ip addr show dev "$BRIDGE")" || ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  ip link set "$BRIDGE" up
}

case "$cmd" in
up)
  NAME=${1:?usage: engine.sh up NAME IP [MEM_MIB]}; IP=${2:?usage: engine.sh up NAME IP [MEM_MIB]}; MEM=${3:-4096}
  NS=micado-$NAME; VETH=$(veth_of "$NAME"); DIR=$STATE/$NAME; SOCK=$DIR/docker.sock
  bridge_up
  # Namespace, veth and cgroup names are global: one that exists without this state folder's
  # claim on it (DIR/claim) is another run's, and is neither joined nor, at down, deleted.
  if netns_exists "$NS" || ip link show "$VETH" >/dev/null 2>&1; then
    [ "$(cat "$DIR/claim" 2>/dev/null)" = "$NS $VETH" ] ||
      { echo "engine.sh: namespace $NS or veth $VETH exists and is not $DIR's (another run's?)" >&2; exit 1; }
  fi
  mkdir -p "$DIR"
  echo "$NS $VETH" >"$DIR/claim"
  netns_exists "$NS" || ip netns add "$NS"
  if ! ip link show "$VETH" >/dev/null 2>&1; then
    ip link add "$VETH" type veth peer name eth0 netns "$NS"
    ip link set "$VETH" master "$BRIDGE" up
  fi
  ip -n "$NS" link set lo up
  grep -qF "inet $IP/" <<<"$(ip -n "$NS" addr show dev eth0)" || ip -n "$NS" addr add "$IP/$PREFIX" dev eth0
  ip -n "$NS" link set eth0 up
  mkdir -p "$DIR/data" "$DIR/run"
  cat > "$DIR/daemon.json" <<JSON
{
  "node-generic-resources": ["mem=$MEM"],
  "default-address-pools": [{"base": "10.214.0.0/16", "size": 24}],
  "bip": "10.215.0.1/20"
}
JSON
  if ! docker -H "unix://$SOCK" version >/dev/null 2>&1; then
    rm -f "$SOCK"
    # nsenter --net, not `ip netns exec` (which remounts /sys and hides the cgroups from dockerd);
    # unshare --uts gives the swarm node the hostname NAME.
    env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY="127.0.0.0/8,$SUBNET,localhost" \
      setsid nsenter --net="/run/netns/$NS" unshare --uts sh -c 'hostname "$0"; exec dockerd "$@"' "$NAME" \
      --config-file "$DIR/daemon.json" --data-root "$DIR/data" --exec-root "$DIR/run" \
      -H "unix://$SOCK" --pidfile "$DIR/dockerd.pid" \
      --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent="/micado-$NAME" \
      >"$DIR/dockerd.log" 2>&1 </dev/null &
    if ! wait_for 60 $! docker -H "unix://$SOCK" version; then
      echo "engine $NAME did not start; last lines of $DIR/dockerd.log:" >&2; tail -20 "$DIR/dockerd.log" >&2; exit 1
    fi
  fi
  echo "unix://$SOCK"
  ;;
down)
  NAME=${1:?usage: engine.sh down NAME}
  NS=micado-$NAME; VETH=$(veth_of "$NAME"); DIR=$STATE/$NAME
  # The namespace, veth and cgroup only if this state folder claimed them (see up): another
  # run's engine of the same name stays. What is this folder's own (its dockerd, checked by
  # its command line; its mounts and files) goes either way, and the claim goes last, so a
  # down that is cut short can be run again.
  claimed=; [ "$(cat "$DIR/claim" 2>/dev/null)" = "$NS $VETH" ] && claimed=1
  if [ -f "$DIR/dockerd.pid" ]; then
    pid=$(cat "$DIR/dockerd.pid")
    if [[ "$pid" =~ ^[0-9]+$ ]] && is_our_dockerd "$pid" "$DIR/dockerd.pid"; then
      kill -TERM "$pid"
      for _ in $(seq 1 150); do is_our_dockerd "$pid" "$DIR/dockerd.pid" || break; sleep 0.1; done
      is_our_dockerd "$pid" "$DIR/dockerd.pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  if [ -n "$claimed" ]; then
    # whatever still runs in the namespace (containerd, shims, tasks) after a hard stop
    if netns_exists "$NS"; then
      for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    fi
    ip link del "$VETH" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    for c in /sys/fs/cgroup/micado-"$NAME" /sys/fs/cgroup/*/micado-"$NAME"; do
      [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  fi
  if [ -d "$DIR" ]; then
    { grep -o " $DIR/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    find "$DIR" -mindepth 1 -maxdepth 1 ! -name claim -exec rm -rf {} + 2>/dev/null || true
    rm -rf "$DIR"
  fi
  ;;
bridge-down)
  ip link del "$BRIDGE" 2>/dev/null || true
  ;;
*)
  sed -n '2,16p' "$0" >&2; exit 64
  ;;
esac
