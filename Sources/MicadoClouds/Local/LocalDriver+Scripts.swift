extension LocalDriver {
    /// The local machine's "cloud-init": run detached with the instance folder as $1.
    /// Writes boot.pid at once, boot.done when its engine answers with the machine image
    /// loaded, boot.failed with the reason otherwise. It does not join the swarm: the
    /// manager does that through the engine's API, so no join token is ever on a command line.
    static let bootScript = #"""
        #!/bin/bash
        set -u
        DIR=$1; cd "$DIR" || exit 1
        echo $$ > boot.pid
        . ./boot.env
        fail() { echo "$*" > boot.failed; exit 1; }
        # The manager's own way in: TCP with mutual TLS, as on any cloud (the engine has no socket).
        D() { docker -H "tcp://$IP:$PORT" --tlsverify --tlscacert "$CA" --tlscert "$CLIENT_CERT" --tlskey "$CLIENT_KEY" "$@"; }
        exec >>boot.log 2>&1
        # network: a namespace with a veth to the manager's bridge, no default route
        ip link show "$BRIDGE" >/dev/null 2>&1 || fail "bridge $BRIDGE does not exist (is the manager's engine up?)"
        ip netns add "$NS" || fail "cannot create namespace $NS"
        ip link add "$VETH" type veth peer name eth0 netns "$NS" || fail "cannot create veth $VETH"
        ip link set "$VETH" master "$BRIDGE" up
        ip -n "$NS" link set lo up
        ip -n "$NS" addr add "$IP/$PREFIX" dev eth0
        ip -n "$NS" link set eth0 up
        # the flavour's memory is a real limit: the engine's cgroup parent is capped
        if [ -d /sys/fs/cgroup/memory ]; then
          mkdir -p "/sys/fs/cgroup/memory/micado-$ID" && echo "$MEM_BYTES" > "/sys/fs/cgroup/memory/micado-$ID/memory.limit_in_bytes"
        elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
          mkdir -p "/sys/fs/cgroup/micado-$ID" && echo "$MEM_BYTES" > "/sys/fs/cgroup/micado-$ID/memory.max"
        fi
        mkdir -p data run /etc/docker
        # The boot document's files (root/etc/docker) are /etc/docker in the engine's own mount
        # namespace, so its daemon.json, certificates and registry trust are read at the paths
        # the document names, as on a cloud machine; the machine's own /etc/docker is untouched.
        env HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY="127.0.0.0/8,$BRIDGE_CIDR,localhost" \
          setsid nsenter --net="/run/netns/$NS" unshare --uts --mount --propagation private \
          sh -c 'mount --bind "$0/root/etc/docker" /etc/docker && hostname "$1" && shift && exec dockerd "$@"' "$DIR" "$ID" \
          --config-file /etc/docker/daemon.json --data-root "$DIR/data" --exec-root "$DIR/run" --pidfile "$DIR/dockerd.pid" \
          --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent="/micado-$ID" >dockerd.log 2>&1 </dev/null &
        # Machine image "default" (busybox:local), made once per cloud while this engine starts,
        # then imported before the manager joins the engine, so that no task misses it.
        IMAGE="$(dirname "$DIR")/machine-image-default.tar"
        if [ ! -s "$IMAGE" ]; then
          ROOT=$(mktemp -d); mkdir -p "$ROOT"/bin "$ROOT"/etc "$ROOT"/tmp "$ROOT"/www
          cp /bin/busybox "$ROOT/bin/busybox"
          for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$ROOT/bin/$a"; done
          echo 'root:x:0:0:root:/root:/bin/sh' > "$ROOT/etc/passwd"; echo 'root:x:0:' > "$ROOT/etc/group"
          echo 'hello from busybox:local' > "$ROOT/www/index.html"
          tar -C "$ROOT" -c . > "$IMAGE.$$" && mv "$IMAGE.$$" "$IMAGE"
          rm -rf "$ROOT" "$IMAGE.$$"
        fi
        for _ in $(seq 1200); do D version >/dev/null 2>&1 && break; sleep 0.05; done
        D version >/dev/null 2>&1 || fail "dockerd did not start: $(tail -3 dockerd.log | tr '\n' ' ')"
        D import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/bin' - busybox:local < "$IMAGE" >/dev/null || fail "cannot import busybox:local"
        touch boot.done
        """#

    /// Deletes an instance: $1 folder, $2 id, $3 namespace, $4 veth. Idempotent. Each
    /// instance's folder also holds it as `teardown`, with its arguments, for whoever must
    /// clean up without a manager (a demo or CI after a crash).
    static let teardownScript = #"""
        set -u
        DIR=$1; ID=$2; NS=$3; VETH=$4
        # $1 a pid file, $2 an argument the process was started with. A pid file can outlive its
        # process (a crash) and the pid be another's since: only a process whose command line
        # names this instance's own path is ours.
        ours() { [ -r "/proc/$1/cmdline" ] && grep -qxF -- "$2" <<<"$(tr '\0' '\n' <"/proc/$1/cmdline")"; }
        stop_pid() {
          [ -f "$1" ] || return 0
          local pid; pid=$(cat "$1" 2>/dev/null) || return 0
          [[ "$pid" =~ ^[0-9]+$ ]] && ours "$pid" "$2" || return 0
          kill -TERM "$pid"
          for _ in $(seq 100); do ours "$pid" "$2" || return 0; sleep 0.1; done
          ours "$pid" "$2" && kill -KILL "$pid" 2>/dev/null
        }
        stop_pid "$DIR/boot.pid" "$DIR"
        stop_pid "$DIR/dockerd.pid" "$DIR/dockerd.pid"
        if ip netns list | grep -qw "^$NS"; then
          for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        fi
        # Containers live in namespaces of their own but in the instance's cgroups: whatever
        # an engine that died (or was killed) did not stop is killed here, then waited for.
        procs() { cat /sys/fs/cgroup/*/"micado-$ID"/cgroup.procs /sys/fs/cgroup/*/"micado-$ID"/*/cgroup.procs \
          /sys/fs/cgroup/"micado-$ID"/cgroup.procs /sys/fs/cgroup/"micado-$ID"/*/cgroup.procs 2>/dev/null | sort -u; }
        for _ in $(seq 50); do
          left=$(procs)
          [ -z "$left" ] && break
          kill -KILL $left 2>/dev/null
          sleep 0.1
        done
        { grep -o " $DIR/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
        ip link del "$VETH" 2>/dev/null
        ip netns del "$NS" 2>/dev/null
        for c in /sys/fs/cgroup/*/"micado-$ID" /sys/fs/cgroup/"micado-$ID"; do
          [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
        rm -rf "$DIR"
        [ ! -e "$DIR" ]
        """#
}
