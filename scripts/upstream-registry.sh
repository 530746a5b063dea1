# A registry standing in for Docker Hub, for the demo: Debian's docker-registry over plain
# HTTP on loopback, holding an image pushed through the registry API itself (curl), so that
# the manager's engine never has it and the instances can only get it by pulling, through
# micado's pull-through cache. Sourced; stopped by the pid it recorded.
#
#   upstream_registry_up   DIR PORT                          start it; pid in DIR/upstream.pid
#   upstream_registry_push DIR PORT DOCKER_HOST IMAGE REPO TAG   push IMAGE of that engine as REPO:TAG
#   upstream_registry_down DIR                               stop it (only that pid, if still that program)

upstream_registry_up() {
  local dir=$1 port=$2
  mkdir -p "$dir/upstream/data"
  cat >"$dir/upstream/config.yml" <<YAML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $dir/upstream/data}
http:
  addr: 127.0.0.1:$port
YAML
  setsid /usr/bin/docker-registry serve "$dir/upstream/config.yml" >"$dir/upstream/registry.log" 2>&1 &
  echo $! >"$dir/upstream.pid"
  disown  # stopped by pid at teardown, not reported as a killed job
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return 0; sleep 0.1; done
  echo "the upstream registry did not answer on 127.0.0.1:$port" >&2
  return 1
}

# Uploads the file $3 as a blob of repository $2 at registry URL $1; prints its digest.
upstream_blob() {
  local url=$1 repo=$2 file=$3 digest location
  digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
  location=$(curl -sf -X POST -D - -o /dev/null "$url/v2/$repo/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  [[ "$location" == /* ]] && location=$url$location
  [[ "$location" == *\?* ]] && location+="&" || location+="?"
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$file" "${location}digest=$digest" >/dev/null
  echo "$digest"
}

upstream_registry_push() {
  local dir=$1 port=$2 host=$3 image=$4 repo=$5 tag=$6 url="http://127.0.0.1:$2" work
  work=$dir/upstream/push
  rm -rf "$work" && mkdir -p "$work/saved"
  docker -H "$host" save "$image" -o "$work/saved.tar"
  tar -xf "$work/saved.tar" -C "$work/saved"
  local config layers=() layer
  config=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["Config"])' "$work/saved/manifest.json")
  while read -r layer; do
    gzip -n -c "$work/saved/$layer" >"$work/layer-${#layers[@]}.gz"
    layers+=("$(upstream_blob "$url" "$repo" "$work/layer-${#layers[@]}.gz") $(stat -c %s "$work/layer-${#layers[@]}.gz")")
  done < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$work/saved/manifest.json")
  local config_digest
  config_digest=$(upstream_blob "$url" "$repo" "$work/saved/$config")
  python3 - "$config_digest" "$(stat -c %s "$work/saved/$config")" "${layers[@]}" >"$work/manifest.json" <<'PY'
import json, sys
config_digest, config_size, layers = sys.argv[1], int(sys.argv[2]), [l.split() for l in sys.argv[3:]]
print(json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config_size, "digest": config_digest},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": int(s), "digest": d} for d, s in layers],
}))
PY
  curl -sf -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' \
    --data-binary @"$work/manifest.json" "$url/v2/$repo/manifests/$tag" >/dev/null
  rm -rf "$work"
}

upstream_registry_down() {
  local dir=$1 pid
  [ -f "$dir/upstream.pid" ] || return 0
  pid=$(cat "$dir/upstream.pid")
  # Only that process, if it is still the registry this folder started (a pid can be reused,
  # and another run's registry is the same program): its command line names this config.
  if [[ "$pid" =~ ^[0-9]+$ ]] && [ -r "/proc/$pid/cmdline" ] &&
    grep -qxF -- "$dir/upstream/config.yml" <<<"$(tr '\0' '\n' <"/proc/$pid/cmdline")"; then
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$dir/upstream.pid"
}
