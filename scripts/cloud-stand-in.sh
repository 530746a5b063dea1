# Sourced by demo.sh: an OpenStack or CloudBroker cloud on this machine. `micado bench
# cloud-stand-in` serves the cloud's API on loopback (answers built from the clouds' recorded
# documents, scripts/fetch-cloud-fixtures.sh) and boots each server it starts from the user
# data micado sent, on the manager's bridge. Its fixed test login is exported for the
# manager (environment, never a command line).
#
#   stand_in_cloud_up DRIVER NAME LOCATION WORK FIRST LAST
#                        needs BIN, MICADO_HOME, MICADO_BRIDGE, MICADO_BRIDGE_CIDR, ENGINE_IP;
#                        appends the cloud NAME (driver openstack or cloudbroker, one location,
#                        at most 2 instances) to clouds.yaml; adds its pid to STAND_IN_PIDS
#   stand_in_clouds_down WORK   stops them (each tears its machines down)
STAND_IN_PIDS=()
stand_in_cloud_up() {
  local driver=$1 name=$2 location=$3 work=$4 first=$5 last=$6 ready
  ready="$work/$name-stand-in.json"
  "$BIN" bench cloud-stand-in --driver "$driver" --bridge "$MICADO_BRIDGE" --bridge-cidr "$MICADO_BRIDGE_CIDR" \
    --manager-address "$ENGINE_IP" --first "$first" --last "$last" --state "$work/$name-stand-in" --home "$MICADO_HOME" \
    --ready "$ready" >"$work/$name-stand-in.log" 2>&1 &
  STAND_IN_PIDS+=($!)
  for _ in $(seq 150); do [ -s "$ready" ] && break; sleep 0.2; done
  [ -s "$ready" ] || { echo "the $driver stand-in did not start:" >&2; cat "$work/$name-stand-in.log" >&2; return 1; }
  field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$ready" "$1"; }
  case $driver in
  openstack)
    OS_USERNAME=$(field username) OS_PASSWORD=$(field password) OS_PROJECT_NAME=$(field project)
    export OS_USERNAME OS_PASSWORD OS_PROJECT_NAME
    cat >>"$MICADO_HOME/clouds.yaml" <<YAML
  $name:
    driver: openstack
    authURL: $(field authURL)
    region: RegionOne
    locations:
      $location: {min: 0, max: 2, network: $(field network)}
    flavours:
      - {name: m1.tiny, pricePerHour: 0.012}
    applications: {node: $(field image)}
    timings: {gracePeriodSeconds: 5, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
YAML
    ;;
  cloudbroker)
    CLOUDBROKER_EMAIL=$(field email) CLOUDBROKER_PASSWORD=$(field password)
    export CLOUDBROKER_EMAIL CLOUDBROKER_PASSWORD
    cat >>"$MICADO_HOME/clouds.yaml" <<YAML
  $name:
    driver: cloudbroker
    endpoint: $(field endpoint)
    locations:
      $location: {min: 0, max: 2, deployment: $(field deployment)}
    flavours:
      - {name: micro, instanceType: Micro - 64 bit}
    timings: {gracePeriodSeconds: 5, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
YAML
    ;;
  esac
}

stand_in_clouds_down() {
  local pid
  for pid in "${STAND_IN_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  local t
  for t in "$1"/*-stand-in/i*/teardown; do [ -f "$t" ] && bash "$t"; done
  return 0
}
