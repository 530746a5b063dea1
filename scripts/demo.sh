#!/usr/bin/env bash
# The main job, on the embedded defaults: the manager's Docker engine in its own network
# namespace, the micado manager with the local cloud, containers launched onto instances
# that the scaler starts on demand (one from an image built from a tarball), reached over
# the network, hostile input refused, the store backed up, logged, executed in, scaled
# down when idle, quit; an application from a Compose file whose worker scales itself on its
# CPU use; every instance boots from one cloud-init document. A second cloud
# speaks EC2: moto's EC2 API on loopback, with `micado bench ec2-stand-in` booting each
# instance moto runs from the user data micado sent. Two managers on a PostgreSQL of the
# demo's own, the leader killed, the other leading. Tears down everything it started, by
# pid, even when a step fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. "$ROOT/scripts/network.sh"
. "$ROOT/scripts/ec2-cloud.sh"
. "$ROOT/scripts/cloud-stand-in.sh"
. "$ROOT/scripts/upstream-registry.sh"
. "$ROOT/scripts/postgres.sh"
[ -x /opt/swift/usr/bin/swift ] && export PATH=/opt/swift/usr/bin:$PATH
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/fetch-cloud-fixtures.sh"
# micado, and micado-bench beside it for the clouds' stand-ins (`micado bench …` runs it)
for product in micado micado-bench; do
  swift build --product "$product" 2>&1 | grep -v -e "unhandled; explicitly declare" -e "CMakeLists.txt" >&2
done
BIN=$(swift build --show-bin-path)/micado

# A given id (CI's) must be free too: its folder is made here, and one that exists is refused.
if [ -n "${MICADO_DEMO_ID:-}" ]; then
  ID=$MICADO_DEMO_ID
  mkdir "/tmp/micado-demo-$ID" || { echo "demo: /tmp/micado-demo-$ID exists (another run's?)" >&2; exit 1; }
else
  ID=$(claim_id /tmp/micado-demo- d)
fi
chmod 711 "/tmp/micado-demo-$ID"  # its PostgreSQL runs as `postgres` and must pass through it
# Until the full cleanup below is set: the folder this run claimed, and only that.
trap 'rm -rf "/tmp/micado-demo-$ID"' EXIT
export MICADO_STATE=/tmp/micado-demo-$ID/engines MICADO_BRIDGE=mbdemo$ID
third=$(free_subnet 10 99)
export MICADO_BRIDGE_CIDR=10.213.$third.1/24
ENGINE_IP=10.213.$third.2
export MICADO_HOME=/tmp/micado-demo-$ID/home
PORT=$(free_port 17400 1000 1000 2000 3000)
MANAGER_PID= MOTO_PID= STANDIN_PID= HA1_PID= HA2_PID=

cleanup() {
  set +e
  [ -n "$MANAGER_PID" ] && kill -TERM "$MANAGER_PID" 2>/dev/null && wait "$MANAGER_PID" 2>/dev/null
  for pid in $HA1_PID $HA2_PID; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  "$ROOT/scripts/engine.sh" down "ha-$ID"
  postgres_down "/tmp/micado-demo-$ID"
  # the stand-in tears down the machines it booted for moto's instances, then moto goes
  ec2_cloud_down "/tmp/micado-demo-$ID"
  stand_in_clouds_down "/tmp/micado-demo-$ID"
  upstream_registry_down "/tmp/micado-demo-$ID"
  # instances the manager left (the scaler deletes idle ones), by the local driver's own
  # teardown, which each instance's folder holds
  for t in "$MICADO_HOME"/instances/local/i*/teardown; do [ -f "$t" ] && bash "$t"; done
  rm -rf "/etc/docker/certs.d/10.213.$third.1:5000" "/etc/docker/certs.d/10.213.$third.1:5001"
  "$ROOT/scripts/engine.sh" down "engine-$ID"
  "$ROOT/scripts/engine.sh" bridge-down
  rm -rf "/tmp/micado-demo-$ID"
  printf '\n== teardown done: manager, instances, engine, bridge and files of demo %s are gone\n' "$ID" >&2
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Echoes the command as it could be pasted back: arguments with spaces or specials quoted.
quoted() {
  local out="" a
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+=" $a"; else out+=" $(printf '%q' "$a")"; fi
  done
  printf '%s' "${out# }"
}
run() { printf '$ %s\n' "$(quoted "$@")" >&2; "$@"; }
# Waits up to $1 seconds for the command after it to succeed, saying what it waits for every 5 s.
wait_for() {
  local limit=$1 what=$2 start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - start >= limit )) && { echo "gave up after ${limit} s waiting for $what" >&2; return 1; }
    (( (SECONDS - start) % 5 == 0 && SECONDS > start )) && echo "  ... still waiting for $what ($((SECONDS - start)) s)" >&2
    sleep 1
  done
}

step "engine: dockerd in netns micado-engine-$ID at $ENGINE_IP"
HOST=$("$ROOT/scripts/engine.sh" up "engine-$ID" "$ENGINE_IP" 2048)
"$ROOT/scripts/busybox-image.sh" "$HOST" >/dev/null

step "micado init + manager, with the local cloud on the engine's bridge"
PROXY_PORT=$((PORT + 1000))
run "$BIN" init --docker-host "$HOST" --advertise-address "$ENGINE_IP" --port "$PORT" --proxy-port "$PROXY_PORT" --proxy-tls-port $((PORT + 3000))
cat >"$MICADO_HOME/clouds.yaml" <<YAML
clouds:
  local:
    driver: local
    network: {bridge: $MICADO_BRIDGE, bridgeCIDR: $MICADO_BRIDGE_CIDR, first: 10.213.$third.10, last: 10.213.$third.40, manager: $ENGINE_IP}
    locations:
      local: {min: 0, max: 3, headroomMiB: 0}
    flavours:
      - {name: small,  cpus: 1, memoryMiB: 256, pricePerHour: 0.010}
      - {name: medium, cpus: 2, memoryMiB: 512, pricePerHour: 0.018}
    applications: {node: default}
    timings: {gracePeriodSeconds: 5, bootTimeoutSeconds: 60, drainTimeoutSeconds: 20}
YAML
# The EC2 cloud: moto's EC2 API on loopback, and the stand-in booting what it runs (scripts/ec2-cloud.sh).
ec2_cloud_up "/tmp/micado-demo-$ID" 2
# OpenStack and the seed's CloudBroker: stand-ins of their APIs on loopback, booting what they start (scripts/cloud-stand-in.sh).
stand_in_cloud_up openstack os zone-a "/tmp/micado-demo-$ID" "10.213.$third.60" "10.213.$third.79"
stand_in_cloud_up cloudbroker cb cola "/tmp/micado-demo-$ID" "10.213.$third.80" "10.213.$third.99"
# A registry standing in for Docker Hub (no traffic leaves this machine), holding a "public"
# image the manager's engine does not have; micado runs a pull-through cache of it.
UPSTREAM_PORT=$(free_port 27400 1000)
upstream_registry_up "/tmp/micado-demo-$ID" "$UPSTREAM_PORT"
upstream_registry_push "/tmp/micado-demo-$ID" "$UPSTREAM_PORT" "$HOST" busybox:local library/hello-public 1.0
sed -i "s|  # pullThrough: https://registry-1.docker.io|  pullThrough: http://127.0.0.1:$UPSTREAM_PORT|" "$MICADO_HOME/config.yaml"
"$BIN" manager >"/tmp/micado-demo-$ID/manager.log" 2>&1 &
MANAGER_PID=$!
for _ in $(seq 100); do "$BIN" events --limit 1 >/dev/null 2>&1 && break; sleep 0.1; done
"$BIN" events --limit 1 >/dev/null || { echo "the manager did not start; its log:" >&2; tail -20 "/tmp/micado-demo-$ID/manager.log" >&2; exit 1; }
run "$BIN" clouds
run "$BIN" list -i

step "launch a web server (MiCADO's form: script + dashed arguments)"
NAME=$(run "$BIN" launch -i busybox:local -n demo -d demo.local -p 8080 -m 128m -s /bin/httpd -a -f -p 8080 -h /www)
echo "$NAME"
WHERE=$("$BIN" list -c --output json | python3 -c "import json,sys; print(next(c['endpoint'] for c in json.load(sys.stdin) if c['name']=='$NAME'))")
run curl -sf "http://$WHERE/"
step "the same page through the domain proxy (Caddy) by its domain"
for _ in $(seq 50); do curl -sf -H "Host: demo.local" "http://127.0.0.1:$PROXY_PORT/" >/dev/null && break; sleep 0.2; done
run curl -sf -H "Host: demo.local" "http://127.0.0.1:$PROXY_PORT/"
run "$BIN" routes

step "build an image from a tarball and launch it"
mkdir -p "/tmp/micado-demo-$ID/site/app"
printf 'FROM busybox:local\nCOPY index.html /www/index.html\nCMD ["httpd", "-f", "-p", "80", "-h", "/www"]\n' >"/tmp/micado-demo-$ID/site/app/Dockerfile"
echo "built by micado build" >"/tmp/micado-demo-$ID/site/app/index.html"
tar -C "/tmp/micado-demo-$ID/site" -cf "/tmp/micado-demo-$ID/app.tar" app
run "$BIN" build -n container-site -f "/tmp/micado-demo-$ID/app.tar"
SITE=$(run "$BIN" launch -i container-site -n demo -p 8081:80 -m 200m)
SITE_AT=$("$BIN" list -c --output json | python3 -c "import json,sys; print(next(c['endpoint'] for c in json.load(sys.stdin) if c['name']=='$SITE'))")
run curl -sf "http://$SITE_AT/"
step "the scaler started instances for them (256 MiB small flavour: 128 + 200 MiB need two)"
run "$BIN" list -i
step "each booted from one cloud-init document, the same an EC2 instance gets as user data (key material not shown)"
DOC=$(ls "$MICADO_HOME"/instances/local/i*/user-data | head -1)
run cloud-init schema --config-file "$DOC"
# The document is JSON after its first line (JSON is YAML): its modules and the files it writes.
python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read().split("\n",1)[1]); [print("    "+k+(": "+", ".join(f["path"] for f in d[k]) if k=="write_files" else "")) for k in sorted(d)]' "$DOC"

step "the EC2 cloud: a launch in its zone starts an instance through the EC2 API (moto here), which boots from that document"
EC2_SITE=$(run "$BIN" launch -i busybox:local -n demo -l us-east-1a -p 8082 -m 128m -s /bin/httpd -a -f -p 8082 -h /www)
EC2_AT=$("$BIN" list -c --output json | python3 -c "import json,sys; print(next(c['endpoint'] for c in json.load(sys.stdin) if c['name']=='$EC2_SITE'))")
run curl -sf "http://$EC2_AT/"
run "$BIN" list -i
run "$BIN" quit -n "$EC2_SITE" -rm

step "OpenStack and CloudBroker (stand-ins of their APIs here): a launch in each cloud's location starts a server through its API, which boots from the same document and gets its address by DHCP"
for location in zone-a cola; do
  SITE_IN=$(run "$BIN" launch -i busybox:local -n demo -l "$location" -p 8083 -m 128m -s /bin/httpd -a -f -p 8083 -h /www)
  AT=$("$BIN" list -c --output json | python3 -c "import json,sys; print(next(c['endpoint'] for c in json.load(sys.stdin) if c['name']=='$SITE_IN'))")
  run curl -sf "http://$AT/"
  run "$BIN" quit -n "$SITE_IN" -rm
done
run "$BIN" list -i

step "hostile input is refused with the reason and changes nothing; one manager per home; helpers unprivileged"
head -c 1024 "/tmp/micado-demo-$ID/app.tar" >"/tmp/micado-demo-$ID/cut.tar"
run "$BIN" build -n container-site -f "/tmp/micado-demo-$ID/cut.tar" || echo "(refused: exit $?)"
echo "\$ micado launch -i busybox:local -n demo -a \$'\\033]0;owned\\007'   # a terminal-title escape" >&2
"$BIN" launch -i busybox:local -n demo -a "$(printf '\033]0;owned\007')" || echo "(refused: exit $?)"
run "$BIN" manager || echo "(refused: exit $?)"
run ps -o user:16,pid,args --ppid "$MANAGER_PID" | grep -e USER -e caddy -e registry
run "$BIN" backup "/tmp/micado-demo-$ID/store-backup.sqlite"

step "a container that logs; execute (collected, streamed, on a terminal)"
LOGGER=$(run "$BIN" launch -i busybox:local -n demo -m 64m -e WHO=micado -s /bin/sh -a -c 'echo hello $WHO; exec sleep 3600')
logged() { grep -q "hello micado" <<<"$("$BIN" logs -n "$LOGGER")"; }
wait_for 20 "the first log line" logged
run "$BIN" logs -n "$LOGGER"
run "$BIN" execute -n "$NAME" -c 'echo "page served from $(hostname)" > /www/host.html'
run curl -sf "http://$WHERE/host.html"
# attached: stdin streams in (-i); on a terminal, execute gives the command a TTY of its own
printf '<p>streamed in through micado</p>\n' | run "$BIN" execute -n "$NAME" -i -c 'cat > /www/streamed.html'
run curl -sf "http://$WHERE/streamed.html"
printf 'tty; stty size; exit 3\n' | script --quiet --return --command "stty cols 100 rows 30; $BIN execute -n $NAME -c sh" /dev/null || echo "(exit code $? from the shell in the container)"
run "$BIN" list -c
run "$BIN" info -s "$SITE"

step "quit (waits until the task is gone: 'stopped', never before), remove"
run "$BIN" quit -n "$LOGGER" -rm
run "$BIN" quit -n "$SITE" -rm
run "$BIN" quit -n "$NAME"
run "$BIN" list -c -a
run "$BIN" remove -n "$NAME"
step "an application from its own Compose file: variables from .env, an api built from its own folder, a secret and a config, a health check the front waits for, its own network with an alias, a database whose named volume keeps its data; the front routed by its domain reaches its api by name; a worker scales itself on its CPU use"
mkdir -p "/tmp/micado-demo-$ID/shop/api/www"
printf 'FROM busybox:local\nCOPY www /www\n' >"/tmp/micado-demo-$ID/shop/api/Dockerfile"
printf 'the catalogue, from an image built from shop/api\n' >"/tmp/micado-demo-$ID/shop/api/www/index.html"
printf 'notes.txt\n' >"/tmp/micado-demo-$ID/shop/api/.dockerignore"
printf 'left out by .dockerignore\n' >"/tmp/micado-demo-$ID/shop/api/notes.txt"
printf 'WEB_PORT=8090\nAPI_REPLICAS=2\n' >"/tmp/micado-demo-$ID/shop/.env"
(umask 077; head -c 24 /dev/urandom | base64 >"/tmp/micado-demo-$ID/shop/api_key.txt")
cat >"/tmp/micado-demo-$ID/shop/compose.yaml" <<'YAML'
name: shop
networks:
  back: {}
secrets:
  api_key: {file: ./api_key.txt}
configs:
  api_conf: {content: "mode=demo"}
volumes:
  orders: {}
services:
  web:
    image: busybox:local
    container_name: shop-web
    entrypoint: /bin/httpd
    command: [-f, -p, "${WEB_PORT}", -h, /www]
    ports: ["${WEB_PORT}:${WEB_PORT}"]
    depends_on: {api: {condition: service_healthy}}
    networks: [default, back]
    deploy: {resources: {reservations: {memory: 32M}}}
    x-micado: {domain: shop.local}
  api:
    build: ./api
    entrypoint: /bin/httpd
    command: [-f, -p, "80", -h, /www]
    secrets: [api_key]
    configs: [{source: api_conf, target: /etc/api.conf}]
    healthcheck: {test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1/"], interval: 2s, retries: 10}
    networks: {back: {aliases: [catalogue]}}
    deploy: {replicas: "${API_REPLICAS}", resources: {reservations: {memory: 32M}}}
  db:
    image: busybox:local
    entrypoint: /bin/sh
    command: [-c, "date >> /data/starts; exec sleep 3600"]
    volumes: [orders:/data]
    stop_grace_period: 1s
    networks: [back]
    deploy: {resources: {reservations: {memory: 16M}}}
  worker:
    image: busybox:local
    entrypoint: /bin/sh
    # busy for 25 s after it starts, then idle: its replicas' CPU is the load
    command: [-c, "end=$$(( $$(date +%s) + 25 )); while [ $$(date +%s) -lt $$end ]; do :; done; exec sleep 3600"]
    deploy: {resources: {reservations: {memory: 100M}, limits: {cpus: "0.2"}}}
    x-micado: {scaling: {min: 1, max: 3, metric: cpu, target: 50, upCooldown: 5s, downStabilization: 15s}}
YAML
run "$BIN" apply -f "/tmp/micado-demo-$ID/shop/compose.yaml" --dry-run
run "$BIN" apply -f "/tmp/micado-demo-$ID/shop/compose.yaml"
shop_up() { curl -sf -H "Host: shop.local" "http://127.0.0.1:$PROXY_PORT/" >/dev/null; }
wait_for 90 "shop.local to answer" shop_up
run curl -sf -H "Host: shop.local" "http://127.0.0.1:$PROXY_PORT/"
run "$BIN" execute -n shop_web -c 'printf "GET / HTTP/1.0\r\n\r\n" | timeout 3 nc catalogue 80 | tail -1'
run "$BIN" execute -n shop_api -c 'echo "the secret: $(wc -c </run/secrets/api_key) bytes at /run/secrets/api_key; the config: $(cat /etc/api.conf)"'
replicas() { "$BIN" apps --output json | python3 -c "import json,sys; print(next(s['desiredReplicas'] for a in json.load(sys.stdin) for s in a['services'] if s['name']=='shop_worker'))"; }
grown() { [ "$(replicas)" -ge 2 ]; }
wait_for 90 "the worker's policy to add replicas" grown
run "$BIN" apps
run "$BIN" explain shop_worker
echo "\$ micado apply -f compose.yaml   # unchanged file" >&2
"$BIN" apply -f "/tmp/micado-demo-$ID/shop/compose.yaml" | tail -1
shrunk() { [ "$(replicas)" = 1 ]; }
wait_for 150 "the load to stop and the worker to shrink back to 1 after its stabilization window" shrunk
run "$BIN" events --subject shop_worker --limit 5
db_up() { "$BIN" execute -n shop_db -c 'test -e /data/starts' >/dev/null 2>&1; }
wait_for 60 "the database to run" db_up
run "$BIN" explain shop_db | grep -e volume -e 'runs on'
run "$BIN" execute -n shop_db -c 'echo "order 1" >> /data/orders; cat /data/orders'
run "$BIN" apps rm shop
echo "\$ micado apply -f compose.yaml   # again: nothing to build, the volume and its data where they were" >&2
"$BIN" apply -f "/tmp/micado-demo-$ID/shop/compose.yaml" | tail -1
db_has_orders() { "$BIN" execute -n shop_db -c 'cat /data/orders' 2>/dev/null | grep -q "order 1"; }
wait_for 90 "the database to read its orders again" db_has_orders
run "$BIN" execute -n shop_db -c 'cat /data/orders; echo "started $(wc -l < /data/starts) times"'
run "$BIN" apps rm shop --volumes

step "a public image (hello-public:1.0, which the manager's engine never had) is pulled by the instance through micado's pull-through cache, by the digest the cache gave"
mkdir -p "/tmp/micado-demo-$ID/public"
printf 'services:\n  hello:\n    image: hello-public:1.0\n    command: sleep 3600\n    deploy: {resources: {reservations: {memory: 32M}}}\n' >"/tmp/micado-demo-$ID/public/compose.yaml"
run "$BIN" apply -f "/tmp/micado-demo-$ID/public/compose.yaml" --dry-run
run "$BIN" apply -f "/tmp/micado-demo-$ID/public/compose.yaml"
hello_runs() { "$BIN" list -c --output json | python3 -c "import json,sys; sys.exit(0 if any(c['name']=='public_hello' and c['state']=='running' for c in json.load(sys.stdin)) else 1)"; }
wait_for 90 "public_hello to run on an instance" hello_runs
echo "\$ micado list -c | grep public_hello" >&2
"$BIN" list -c | grep -e '^NAME' -e public_hello
run "$BIN" images
run "$BIN" apps rm public

step "the dashboard at http://127.0.0.1:$PORT/ (strict CSP; the token, once, becomes a session cookie and a CSRF token)"
run curl -s -o /dev/null -w '%{http_code} %{content_type}\n' "http://127.0.0.1:$PORT/"
curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/" | grep -i '^content-security-policy' | cut -c1-100
JAR="/tmp/micado-demo-$ID/cookies" CSRF="/tmp/micado-demo-$ID/csrf-header"
echo "\$ curl -c cookies --data @- http://127.0.0.1:$PORT/v1/session   # the token on stdin, never on a command line" >&2
(umask 077; printf '{"token":"%s"}' "$(cat "$MICADO_HOME/token")" | curl -sf -c "$JAR" -H 'Content-Type: application/json' --data @- "http://127.0.0.1:$PORT/v1/session" \
  | python3 -c "import json,sys; print('X-CSRF-Token: ' + json.load(sys.stdin)['csrf'])" >"$CSRF")
echo "logged in: a cookie (HttpOnly) and a CSRF token (kept in a file here, as the page keeps it in its tab)"
echo "\$ curl -b cookies -H @csrf-header http://127.0.0.1:$PORT/v1/instances   # both: the session reads what the page shows" >&2
curl -sf -b "$JAR" -H @"$CSRF" "http://127.0.0.1:$PORT/v1/instances" | python3 -c "import json,sys; print(sum(1 for i in json.load(sys.stdin) if i['cloud']!='manager'), 'cloud instances')"
echo "\$ curl -b cookies http://127.0.0.1:$PORT/v1/instances   # the cookie alone, as a server on another port of 127.0.0.1 would get it" >&2
curl -s -b "$JAR" "http://127.0.0.1:$PORT/v1/instances"; echo

step "idle instances are drained and deleted after their grace period (5 s here)"
no_instances() { [ "$("$BIN" list -i --output json | python3 -c "import json,sys; print(sum(1 for i in json.load(sys.stdin) if i['cloud']!='manager'))")" = 0 ]; }
wait_for 90 "the scaler to delete the idle instances" no_instances
run "$BIN" list -i
run "$BIN" events --limit 14

step "several managers on PostgreSQL (docs/several-managers.md): one leads, one stands by; kill -9 of the leader, and the other leads at the next epoch with every record"
postgres_up "/tmp/micado-demo-$ID"
# A world of their own: another engine on the bridge (the first one's swarm is the SQLite manager's).
HA_IP=10.213.$third.3
HA_HOST=$("$ROOT/scripts/engine.sh" up "ha-$ID" "$HA_IP" 1024)
"$ROOT/scripts/busybox-image.sh" "$HA_HOST" >/dev/null
HA_PORT=$(free_port 18400 1000 1 1000 1001 1002 1003 1004 1005)
for n in 1 2; do
  home=/tmp/micado-demo-$ID/ha$n
  MICADO_HOME=$home "$BIN" init --docker-host "$HA_HOST" --advertise-address "$HA_IP" --port $((HA_PORT + n - 1)) \
    --proxy-port $((HA_PORT + 1000 + (n - 1) * 3)) --proxy-tls-port $((HA_PORT + 1002 + (n - 1) * 3)) >/dev/null
  # The store: the database, its socket and its password file (0600), in place of the SQLite file.
  install -m 600 "/tmp/micado-demo-$ID/pg/password" "$home/pg-password"
  python3 - "$home/config.yaml" "/tmp/micado-demo-$ID/pg/run" "$home/pg-password" <<'PY'
import re, sys
path, socket, password = sys.argv[1:]
text = open(path).read()
store = f"store:\n  postgres: postgres://micado@/micado?host={socket}\n  passwordFile: {password}\n"
open(path, "w").write(re.sub(r"^store:\n(  .*\n)*", store, text, flags=re.M))
PY
done
cp "/tmp/micado-demo-$ID/ha1/token" "/tmp/micado-demo-$ID/ha2/token"
MICADO_HOME=/tmp/micado-demo-$ID/ha1 "$BIN" manager >"/tmp/micado-demo-$ID/ha1.log" 2>&1 &
HA1_PID=$!
ha_answers() { MICADO_HOME=/tmp/micado-demo-$ID/$1 "$BIN" events --limit 1 >/dev/null 2>&1; }
wait_for 60 "the first manager on PostgreSQL" ha_answers ha1
grep -o 'leading: manager .*' "/tmp/micado-demo-$ID/ha1.log"
run env MICADO_HOME="/tmp/micado-demo-$ID/ha1" "$BIN" launch -i busybox:local -n ha --container container-kept -a sleep 3600
MICADO_HOME=/tmp/micado-demo-$ID/ha2 "$BIN" manager >"/tmp/micado-demo-$ID/ha2.log" 2>&1 &
HA2_PID=$!
standing_by() { grep -q "standing by" "/tmp/micado-demo-$ID/ha2.log"; }
wait_for 60 "the second manager to stand by" standing_by
grep -o 'standing by: .*' "/tmp/micado-demo-$ID/ha2.log" | head -1
echo "\$ kill -9 $HA1_PID   # the leader"
killed=$(date +%s.%N)
kill -KILL "$HA1_PID"; wait "$HA1_PID" 2>/dev/null || true
HA1_PID=
wait_for 60 "the second manager to lead" ha_answers ha2
python3 -c 'import sys; print("the second manager answers %.1f s after the kill" % (float(sys.argv[1]) - float(sys.argv[2])))' "$(date +%s.%N)" "$killed"
grep -o 'leading: manager .*' "/tmp/micado-demo-$ID/ha2.log"
# The CLI given both managers' addresses (the dead one first) finds the one that leads.
run env MICADO_HOME="/tmp/micado-demo-$ID/ha1" MICADO_MANAGERS="http://127.0.0.1:$HA_PORT,http://127.0.0.1:$((HA_PORT + 1))" "$BIN" list -c
kill -TERM "$HA2_PID"; wait "$HA2_PID" 2>/dev/null || true
HA2_PID=
"$ROOT/scripts/engine.sh" down "ha-$ID"
postgres_down "/tmp/micado-demo-$ID"

step "at scale, simulated: 20 minutes of a day through micado's own scaler, planner and autoscaler on a simulated cloud (docs/simulation.md)"
run "$BIN" bench sim --hours 0.33 --peak 200 --seed 1 --apps 2 --policies defaults,ca-like
step "done: tearing down"
