# Sourced by demo.sh and bench.sh: an ec2 cloud on this machine. moto's EC2 API on a
# loopback port, its subnet the upper half of the manager's bridge network, and
# `micado bench ec2-stand-in` booting each instance moto runs from the user data micado
# sent. moto checks no credentials: these are made per run, exported, never on a command line.
#
#   ec2_cloud_up WORK MAX     needs BIN, MICADO_HOME, MICADO_BRIDGE, MICADO_BRIDGE_CIDR,
#                             ENGINE_IP and third (the bridge's 10.213.<third>.0/24); appends
#                             the cloud "aws" (zone us-east-1a, at most MAX instances) to
#                             clouds.yaml and sets MOTO_PID and STANDIN_PID
#   ec2_cloud_down WORK       stops the stand-in (it tears its machines down), then moto
ec2_cloud_up() {
  local work=$1 max=$2 port subnet group image
  command -v moto_server >/dev/null || { echo "moto_server is not installed: scripts/install-deps.sh installs it" >&2; return 1; }
  export AWS_ACCESS_KEY_ID=AKIAMICADO$(printf '%010d' $((RANDOM * 32768 + RANDOM)))
  AWS_SECRET_ACCESS_KEY=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
  export AWS_SECRET_ACCESS_KEY
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
  MOTO_PID=$!
  for _ in $(seq 150); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break; sleep 0.2; done
  "$BIN" bench ec2-stand-in --endpoint "http://127.0.0.1:$port" --subnet-cidr "10.213.$third.128/25" --vpc-cidr 10.213.0.0/16 \
    --bridge "$MICADO_BRIDGE" --bridge-cidr "$MICADO_BRIDGE_CIDR" --manager-address "$ENGINE_IP" --state "$work/stand-in" \
    --home "$MICADO_HOME" --staged "$work/staged.json" >"$work/stand-in.log" 2>&1 &
  STANDIN_PID=$!
  for _ in $(seq 150); do [ -s "$work/staged.json" ] && break; sleep 0.2; done
  [ -s "$work/staged.json" ] || { echo "the stand-in could not stage a network in moto:" >&2; cat "$work/stand-in.log" >&2; return 1; }
  read -r subnet group image < <(python3 -c 'import json,sys; n=json.load(open(sys.argv[1])); print(n["subnet"], n["securityGroup"], n["image"])' "$work/staged.json")
  cat >>"$MICADO_HOME/clouds.yaml" <<YAML
  aws:
    driver: ec2
    region: us-east-1
    endpoint: http://127.0.0.1:$port
    locations:
      us-east-1a: {min: 0, max: $max, headroomMiB: 0, subnet: $subnet}
    flavours:
      - {name: t3.small, cpus: 2, memoryMiB: 512, pricePerHour: 0.0208}
    applications: {node: $image}
    securityGroups: [$group]
    timings: {gracePeriodSeconds: 5, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
YAML
}

ec2_cloud_down() {
  local work=$1
  [ -n "${STANDIN_PID:-}" ] && kill -TERM "$STANDIN_PID" 2>/dev/null && wait "$STANDIN_PID" 2>/dev/null
  [ -n "${MOTO_PID:-}" ] && kill -TERM "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
  for t in "$work"/stand-in/i*/teardown; do [ -f "$t" ] && bash "$t"; done
  return 0
}
