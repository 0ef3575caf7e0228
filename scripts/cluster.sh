#!/usr/bin/env bash
# Brings the toystore cluster up and down on this machine, and breaks it on purpose.
# Reference: docs/API.md section 6. Every process it starts is tracked by a pid file under
# $DATA_DIR/pids; it signals only those pids, never processes found by name.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA_DIR="$(realpath -m "${DATA_DIR:-./data}")"
PID_DIR="$DATA_DIR/pids"
LOG_DIR="$DATA_DIR/logs"
STATE_FILE="$DATA_DIR/cluster.env"
BUILD_PROFILE="${BUILD_PROFILE:-release}"
START_DEADLINE="${START_DEADLINE:-60}"

usage() {
  cat <<'EOF'
usage: scripts/cluster.sh VERB [ARGS]

  up [--nodes N] [--secure | --tls]
                       start catalog, N raft nodes (default 3) and the gateway; wait for a leader.
                       --secure: a cluster secret and an admin token (made on first start under
                       DATA_DIR/secrets, mode 0600) guard internal and admin routes;
                       --tls: the same, and every link over TLS with a throwaway CA
                       (mutual certificates between services). Kept for later verbs.
  down                 SIGTERM every service, SIGKILL what is left after 10 s
  status               one line per service: pid, address, up/down, Raft state, term, applied
  kill SVC             SIGKILL a service
  pause SVC            SIGSTOP a service
  resume SVC           SIGCONT a service
  restart SVC          kill a service and start it again
  add-node ID          start node ID and join it as a voter (the gateway learns of it)
  remove-node ID       take node ID out of the voters and stop it (the gateway drops it)
  logs SVC             follow a service's log
  clean                down, then delete DATA_DIR

SVC is catalog, gateway, node-<id>, leader or follower.

Environment: DATA_DIR (default ./data), BUILD_PROFILE (release|debug, default release),
GATEWAY_PORT (6060), CATALOG_PORT (10086), NODE_PORT_BASE (10010, the port of node 1),
and the catalog's CATALOG_INITIAL_STOCK, CATALOG_RESTOCK_TO, CATALOG_RESTOCK_INTERVAL.
EOF
}

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

# Ports and node set are fixed at the first `up` and kept in $STATE_FILE, so every later
# verb addresses the same cluster.
load_state() {
  GATEWAY_PORT="${GATEWAY_PORT:-6060}"
  CATALOG_PORT="${CATALOG_PORT:-10086}"
  NODE_PORT_BASE="${NODE_PORT_BASE:-10010}"
  NODES=""
  SECURITY="${SECURITY:-open}"
  if [[ -f "$STATE_FILE" ]]; then
    # shellcheck source=/dev/null
    source "$STATE_FILE"
  fi
}

save_state() {
  mkdir -p "$DATA_DIR"
  cat >"$STATE_FILE" <<EOF
GATEWAY_PORT=$GATEWAY_PORT
CATALOG_PORT=$CATALOG_PORT
NODE_PORT_BASE=$NODE_PORT_BASE
NODES="$NODES"
SECURITY=$SECURITY
EOF
}

SECRETS_DIR="$DATA_DIR/secrets"

secured() { [[ "$SECURITY" != open ]]; }
scheme() { if [[ "$SECURITY" == tls ]]; then echo https; else echo http; fi; }

# Makes the secrets on first start (never again: restarted services keep theirs).
make_secrets() {
  secured || return 0
  [[ -f "$SECRETS_DIR/cluster.token" ]] && return 0
  local flags=()
  [[ "$SECURITY" == tls ]] && flags+=(--tls)
  "$(bin jepsen-like)" secrets "$SECRETS_DIR" "${flags[@]}" >/dev/null
  # curl reads the admin credential from a file, so it never shows in `ps`.
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(cat "$SECRETS_DIR/admin.token")" >"$SECRETS_DIR/admin.header")
  echo "made secrets in $SECRETS_DIR"
}

# The credential and TLS flags of a service kind (catalog, node, gateway), one per line.
security_flags() {
  local kind="$1"
  secured || return 0
  printf '%s\n' --cluster-token-file "$SECRETS_DIR/cluster.token"
  [[ "$kind" != gateway ]] && printf '%s\n' --admin-token-file "$SECRETS_DIR/admin.token"
  if [[ "$SECURITY" == tls ]]; then
    printf '%s\n' --tls-cert "$SECRETS_DIR/$kind.pem" --tls-key "$SECRETS_DIR/$kind-key.pem" \
      --tls-ca "$SECRETS_DIR/ca.pem"
    # Services prove themselves to each other; the gateway's public side asks nobody.
    [[ "$kind" != gateway ]] && echo --tls-client-auth
  fi
  return 0
}

# curl as the operator: the admin credential and, with TLS, the CA and admin certificate.
curl_admin() {
  local extra=()
  if secured; then extra+=(-H "@$SECRETS_DIR/admin.header"); fi
  if [[ "$SECURITY" == tls ]]; then
    extra+=(--cacert "$SECRETS_DIR/ca.pem" --cert "$SECRETS_DIR/admin.pem" --key "$SECRETS_DIR/admin-key.pem")
  fi
  curl "${extra[@]}" "$@"
}

node_port() { echo $((NODE_PORT_BASE + $1 - 1)); }
node_addr() { echo "127.0.0.1:$(node_port "$1")"; }

peers() {
  local list="" id
  for id in $NODES; do
    list="${list:+$list,}$id=$(node_addr "$id")"
  done
  echo "$list"
}

bin() { echo "$ROOT/target/$BUILD_PROFILE/$1"; }

build() {
  local flags=(--quiet -p catalog -p raft-node -p gateway)
  if secured; then flags+=(-p jepsen-like); fi
  [[ "$BUILD_PROFILE" == release ]] && flags+=(--release)
  echo "building $BUILD_PROFILE binaries..."
  (cd "$ROOT" && cargo build "${flags[@]}")
}

pid_of() {
  local file="$PID_DIR/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(cat "$file")"
  # The pid must still be the process we started (pids get reused): it listens where
  # this service should.
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--listen 127.0.0.1:$(port_of "$1") " || return 1
  echo "$pid"
}

is_paused() { grep -q '^State:[[:space:]]*T' "/proc/$1/status" 2>/dev/null; }

port_of() {
  case "$1" in
    catalog) echo "$CATALOG_PORT" ;;
    gateway) echo "$GATEWAY_PORT" ;;
    node-*) node_port "${1#node-}" ;;
  esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# GET a JSON document, printing nothing on failure.
fetch() { curl_admin -fsS --max-time 2 "$(scheme)://$1" 2>/dev/null || true; }

json_field() {
  # Pulls a scalar out of compact JSON (the services emit compact serde_json).
  sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2" | head -n1
}

wait_for() {
  local what="$1" deadline=$((SECONDS + START_DEADLINE))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || die "timed out after ${START_DEADLINE}s waiting for $what (see $LOG_DIR)"
    sleep 0.1
  done
}

launch() {
  local name="$1"
  shift
  if pid_of "$name" >/dev/null; then
    echo "$name already running (pid $(pid_of "$name"))"
    return 0
  fi
  local port
  port="$(port_of "$name")"
  port_open "$port" && die "port $port for $name is taken by another process"
  mkdir -p "$PID_DIR" "$LOG_DIR"
  nohup "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PID_DIR/$name.pid"
  wait_for "$name to listen on port $port" port_open "$port"
  echo "started $name (pid $pid) on 127.0.0.1:$port"
}

start_catalog() {
  local extra=()
  mapfile -t extra < <(security_flags catalog)
  launch catalog "$(bin catalog)" --listen "127.0.0.1:$CATALOG_PORT" \
    --data-dir "$DATA_DIR/catalog" "${extra[@]}"
}

start_node() {
  local id="$1" extra=()
  mapfile -t extra < <(security_flags node)
  [[ "$id" == "$(first_node)" ]] && extra+=(--bootstrap)
  launch "node-$id" "$(bin raft-node)" --id "$id" --listen "$(node_addr "$id")" \
    --data-dir "$DATA_DIR/node-$id" --peers "$(peers)" \
    --catalog "127.0.0.1:$CATALOG_PORT" "${extra[@]}"
}

start_gateway() {
  local extra=()
  mapfile -t extra < <(security_flags gateway)
  launch gateway "$(bin gateway)" --listen "127.0.0.1:$GATEWAY_PORT" \
    --catalog "127.0.0.1:$CATALOG_PORT" --nodes "$(peers)" "${extra[@]}"
}

first_node() { echo "${NODES%% *}"; }

start_service() {
  case "$1" in
    catalog) start_catalog ;;
    gateway) start_gateway ;;
    node-*) start_node "${1#node-}" ;;
  esac
}

node_status() { fetch "$(node_addr "$1")/cluster/status"; }

leader_id() {
  local id status
  for id in $NODES; do
    pid_of "node-$id" >/dev/null || continue
    status="$(node_status "$id")"
    if [[ "$(json_field state "$status")" == leader ]]; then
      echo "$id"
      return 0
    fi
  done
  return 1
}

has_leader() { leader_id >/dev/null; }
gateway_healthy() { curl_admin -fsS --max-time 2 "$(scheme)://127.0.0.1:$GATEWAY_PORT/health" >/dev/null 2>&1; }

# Resolves leader / follower to a node-<id>.
resolve() {
  local svc="$1" leader id
  case "$svc" in
    catalog | gateway) echo "$svc" ;;
    node-[0-9]*)
      [[ " $NODES " == *" ${svc#node-} "* ]] || die "no such node: $svc (nodes: $NODES)"
      echo "$svc"
      ;;
    leader)
      leader="$(leader_id)" || die "no leader right now"
      echo "node-$leader"
      ;;
    follower)
      leader="$(leader_id)" || die "no leader right now"
      for id in $NODES; do
        if [[ "$id" != "$leader" ]] && pid_of "node-$id" >/dev/null; then
          echo "node-$id"
          return 0
        fi
      done
      die "no running follower"
      ;;
    *) die "unknown service: $svc (catalog, gateway, node-<id>, leader, follower)" ;;
  esac
}

cmd_up() {
  local count=3 wanted=""
  while (($#)); do
    case "$1" in
      --nodes)
        [[ "${2:-}" =~ ^[1-9][0-9]?$ ]] || die "--nodes needs a number from 1 to 99"
        count="$2"
        shift 2
        ;;
      --secure) wanted=tokens; shift ;;
      --tls) wanted=tls; shift ;;
      *) usage >&2; die "unknown argument to up: $1" ;;
    esac
  done
  if [[ -n "$wanted" ]]; then
    if [[ -n "$NODES" && "$SECURITY" != "$wanted" ]]; then
      die "this cluster was first started as '$SECURITY'; 'clean' it to change that"
    fi
    SECURITY="$wanted"
  fi
  command -v curl >/dev/null || die "curl is required"
  if [[ -z "$NODES" ]]; then
    NODES="$(seq -s ' ' 1 "$count")"
  fi
  save_state
  build
  make_secrets
  start_catalog
  local id
  for id in $NODES; do start_node "$id"; done
  start_gateway
  wait_for "a Raft leader" has_leader
  wait_for "the gateway's /health" gateway_healthy
  local gw curl_tls=""
  gw="$(scheme)://127.0.0.1:$GATEWAY_PORT"
  [[ "$SECURITY" == tls ]] && curl_tls=" --cacert $SECRETS_DIR/ca.pem"
  cat <<EOF

toystore is up (leader: node-$(leader_id); security: $SECURITY).
  gateway  $gw
  catalog  $(scheme)://127.0.0.1:$CATALOG_PORT
  nodes    $(peers)
  data     $DATA_DIR

try:
  curl -s$curl_tls $gw/products/Tux
  curl -s$curl_tls -X POST $gw/orders -d '{"name": "Tux", "quantity": 1}'
  curl -s$curl_tls $gw/orders/0
EOF
}

services() {
  echo catalog
  local id
  for id in $NODES; do echo "node-$id"; done
  echo gateway
}

cmd_down() {
  local svc pid pids=()
  for svc in $(services); do
    if pid="$(pid_of "$svc")"; then
      kill -TERM "$pid" 2>/dev/null || true
      kill -CONT "$pid" 2>/dev/null || true # a paused process must run to handle SIGTERM
      pids+=("$pid")
    fi
    rm -f "$PID_DIR/$svc.pid"
  done
  local deadline=$((SECONDS + 10)) alive
  while :; do
    alive=()
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive+=("$pid")
    done
    ((${#alive[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      echo "SIGKILL to what is left: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  echo "stopped ${#pids[@]} process(es)"
}

cmd_status() {
  local leader svc pid state addr status raft term applied
  leader="$(leader_id || true)"
  printf '%-10s %-8s %-17s %-7s %-10s %-6s %-8s\n' SERVICE PID ADDRESS STATUS RAFT TERM APPLIED
  for svc in $(services); do
    addr="127.0.0.1:$(port_of "$svc")"
    raft="-" term="-" applied="-"
    if pid="$(pid_of "$svc")"; then
      state=up
      is_paused "$pid" && state=paused
    else
      pid="-" state=down
    fi
    if [[ "$svc" == node-* && "$state" == up ]]; then
      status="$(node_status "${svc#node-}")"
      if [[ -n "$status" ]]; then
        raft="$(json_field state "$status")"
        term="$(json_field term "$status")"
        applied="$(json_field last_applied "$status")"
      else
        raft="?"
      fi
      [[ "${svc#node-}" == "$leader" ]] && raft="$raft *"
    fi
    printf '%-10s %-8s %-17s %-7s %-10s %-6s %-8s\n' "$svc" "$pid" "$addr" "$state" "$raft" "$term" "$applied"
  done
}

signal_service() {
  local sig="$1" svc pid
  svc="$(resolve "$2")"
  pid="$(pid_of "$svc")" || die "$svc is not running"
  kill "-$sig" "$pid"
  if [[ "$sig" == KILL ]]; then
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$PID_DIR/$svc.pid"
  fi
  echo "$svc (pid $pid): SIG$sig"
}

cmd_restart() {
  local svc pid
  svc="$(resolve "$1")"
  if pid="$(pid_of "$svc")"; then
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$PID_DIR/$svc.pid"
  fi
  start_service "$svc"
}

leader_addr() {
  local leader
  leader="$(leader_id)" || die "no leader right now"
  node_addr "$leader"
}

# Sends $1 (POST or DELETE) to the admin route $2, with the JSON body $3 if not empty,
# waiting up to $4 s (default 30). Sets `answer` to the reply's body and `code` to its HTTP
# status (callers declare both local); dies when no reply comes.
admin_call() {
  local method="$1" url="$2" body="${3-}" max_time="${4:-30}" reply
  local args=(-sS --max-time "$max_time" -X "$method" "$(scheme)://$url" -w '\n%{http_code}')
  if [[ -n "$body" ]]; then args+=(-H 'content-type: application/json' -d "$body"); fi
  reply="$(curl_admin "${args[@]}")" || die "$method $url failed"
  code="${reply##*$'\n'}"
  answer="${reply%$'\n'*}"
}

# Like admin_call, and dies unless the reply is 200.
admin_ok() {
  local answer code
  admin_call "$@"
  [[ "$code" == 200 ]] || die "$1 $2: $answer"
}

# Adds node $1 as a learner through leader $2 and returns once it has caught up. The
# leader answers 503 when the node was added but is still catching up after the time one
# call waits (a large store takes longer): ask again, which waits again, for up to 10 min.
add_learner() {
  local id="$1" leader="$2" answer code deadline=$((SECONDS + 600))
  while :; do
    admin_call POST "$leader/cluster/learners" "{\"id\": $id, \"addr\": \"$(node_addr "$id")\"}" 60
    [[ "$code" == 200 ]] && return 0
    if [[ "$code" != 503 ]] || ((SECONDS >= deadline)); then
      die "POST $leader/cluster/learners: $answer"
    fi
    echo "node-$id is still catching up"
  done
}

# Whether the gateway's GET /cluster lists node $1.
gateway_lists() { fetch "127.0.0.1:$GATEWAY_PORT/cluster" | grep -q "\"id\":$1,"; }
gateway_omits() { ! gateway_lists "$1"; }

# Waits until a running gateway lists node $1 (yes) or no longer does (no): it polls the
# nodes' membership itself, so it needs no restart.
gateway_learns() {
  pid_of gateway >/dev/null || return 0
  if [[ "$2" == yes ]]; then
    wait_for "the gateway to list node-$1" gateway_lists "$1"
  else
    wait_for "the gateway to drop node-$1" gateway_omits "$1"
  fi
}

cmd_add_node() {
  local id="$1"
  [[ "$id" =~ ^[1-9][0-9]?$ ]] || die "add-node needs a node id from 1 to 99"
  [[ " $NODES " == *" $id "* ]] && die "node-$id is already a member"
  NODES="$NODES $id"
  save_state
  start_node "$id"
  local leader voters
  leader="$(leader_addr)"
  add_learner "$id" "$leader"
  voters="$(echo "$NODES" | tr ' ' ',')"
  admin_ok POST "$leader/cluster/membership" "{\"voters\": [$voters]}"
  # The gateway learns the membership from the nodes; wait until it routes to the new one.
  gateway_learns "$id" yes
  echo "node-$id joined as a voter"
}

cmd_remove_node() {
  local id="$1" rest="" n
  [[ " $NODES " == *" $id "* ]] || die "node-$id is not a member (nodes: $NODES)"
  for n in $NODES; do [[ "$n" != "$id" ]] && rest="${rest:+$rest }$n"; done
  [[ -n "$rest" ]] || die "cannot remove the last node"
  admin_ok POST "$(leader_addr)/cluster/membership" "{\"voters\": [$(echo "$rest" | tr ' ' ',')]}"
  # Out of the learners too: a node an unfinished add-node left a learner is no voter, and
  # the leader would go on retrying it once it is stopped.
  admin_ok DELETE "$(leader_addr)/cluster/learners/$id"
  local pid
  if pid="$(pid_of "node-$id")"; then
    kill -TERM "$pid"
    kill -CONT "$pid" 2>/dev/null || true
    rm -f "$PID_DIR/node-$id.pid"
  fi
  NODES="$rest"
  save_state
  gateway_learns "$id" no
  echo "node-$id removed"
}

main() {
  local verb="${1:-}"
  (($#)) && shift
  load_state
  case "$verb" in
    up) cmd_up "$@" ;;
    down) (($# == 0)) || die "down takes no arguments"; cmd_down ;;
    status) (($# == 0)) || die "status takes no arguments"; cmd_status ;;
    kill | pause | resume | restart | logs)
      (($# == 1)) || { usage >&2; die "$verb needs exactly one service"; }
      case "$verb" in
        kill) signal_service KILL "$1" ;;
        pause) signal_service STOP "$1" ;;
        resume) signal_service CONT "$1" ;;
        restart) cmd_restart "$1" ;;
        logs) exec tail -n 50 -F "$LOG_DIR/$(resolve "$1").log" ;;
      esac
      ;;
    add-node | remove-node)
      (($# == 1)) || { usage >&2; die "$verb needs a node id"; }
      if [[ "$verb" == add-node ]]; then cmd_add_node "$1"; else cmd_remove_node "$1"; fi
      ;;
    clean)
      cmd_down
      rm -rf "$DATA_DIR"
      echo "deleted $DATA_DIR"
      ;;
    -h | --help | help) usage ;;
    *)
      usage >&2
      [[ -z "$verb" ]] && die "missing verb"
      die "unknown verb: $verb"
      ;;
  esac
}

main "$@"
