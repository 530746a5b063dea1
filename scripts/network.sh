# Free addresses for the scripts that start engines and managers (sourced, not run).
#
#   third=$(free_subnet FIRST LAST)        a <third> of 10.213.<third>.0/24 that no interface uses
#   port=$(free_port FIRST SPAN [OFFSET…]) a port P in FIRST..FIRST+SPAN-1 with P and every
#                                          P+OFFSET free on loopback (nothing listens there)
#   id=$(claim_id DIR_PREFIX LETTER)      LETTER and 4 hex digits such that DIR_PREFIX<id> did
#                                          not exist; that folder is made (mkdir is atomic), so
#                                          two runs never get one id
# Each fails with a message instead of handing out an address in use.

claim_id() {
  local id
  for _ in $(seq 100); do
    id=$2$(printf '%04x' $((RANDOM % 65536)))
    mkdir "$1$id" 2>/dev/null && { echo "$id"; return 0; }
  done
  echo "no free id for $1" >&2
  return 1
}

free_subnet() {
  local used third
  used=$(ip -4 -o addr)
  for third in $(seq "$1" "$2"); do
    grep -q " 10\.213\.$third\." <<<"$used" || { echo "$third"; return 0; }
  done
  echo "no free 10.213.X.0/24 with X in $1..$2" >&2
  return 1
}

free_port() {
  local first=$1 span=$2 listening port offset ok
  shift 2
  listening=$(ss -Htln | awk '{print $4}' | sed 's/.*://' | sort -u)
  for _ in $(seq 100); do
    port=$((first + RANDOM % span)) ok=1
    for offset in 0 "$@"; do
      grep -qx "$((port + offset))" <<<"$listening" && { ok=; break; }
    done
    [ -n "$ok" ] && { echo "$port"; return 0; }
  done
  echo "no free port in $first..$((first + span - 1))" >&2
  return 1
}
