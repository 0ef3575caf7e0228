#!/usr/bin/env bash
# Runs the cluster as if on separate hosts: the catalog, three raft nodes, the gateway and a
# client each in its own network namespace, joined by veth pairs to a bridge this script
# creates, on the private subnet 10.77.0.0/24 (never loopback). It buys through the gateway,
# cuts the leader's host off with iptables (DROP in and out, inside its namespace), buys
# again (after failover), heals, and waits for the three nodes' digests to agree.
# docs/deploy.md describes the real deployment this mirrors. Part of scripts/test.sh.
#
# Needs root, ip (iproute2) and iptables (nft or legacy); without them it skips (exit 0),
# or fails when CI is set. BUILD_PROFILE (debug by default) picks the binaries. Whatever
# happens it stops the processes it started (by pid) and deletes its namespaces, veths,
# bridge and any iptables rule it added.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PROFILE="${BUILD_PROFILE:-debug}"
BIN="target/$BUILD_PROFILE"
DEADLINE="${MULTIHOST_DEADLINE:-60}"
NET=10.77.0
NODES=(1 2 3)
HOSTS=(catalog node-1 node-2 node-3 gateway client)
declare -A IP=([catalog]=$NET.10 [node-1]=$NET.11 [node-2]=$NET.12 [node-3]=$NET.13
  [gateway]=$NET.20 [client]=$NET.30)
CATALOG_ADDR="${IP[catalog]}:10086"
GATEWAY_ADDR="${IP[gateway]}:6060"
# A random suffix on every name, so runs in parallel do not clash. The subnet may repeat:
# each run has its own bridge and nothing of it is routed in the root namespace.
SUFFIX="$(od -An -tx1 -N3 /dev/urandom | tr -d ' \n')"
BRIDGE="mh${SUFFIX}br"

# What cleanup undoes; filled as things are made.
PIDS=()
NAMESPACES=()
VETHS=()
BRIDGE_MADE=0
FORWARD_RULE=0
WORK=""
IPT=""
SUMMARY=()

say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
passed() {
  SUMMARY+=("ok    $*")
  say "ok: $*"
}

fail() {
  SUMMARY+=("FAIL  $*")
  echo "multihost-test: FAIL: $*" >&2
  exit 1
}

# Missing prerequisites: a skip on a developer's machine, a failure in CI.
unable() {
  if [[ -n "${CI:-}" ]]; then
    echo "multihost-test: FAIL: $* (CI is set, so this is an error)" >&2
    exit 1
  fi
  echo "multihost-test: SKIP: $*"
  exit 0
}

ns() { echo "mh-$SUFFIX-$1"; }
node_addr() { echo "${IP[node-$1]}:10010"; }
peers() {
  local id list=""
  for id in "${NODES[@]}"; do list="${list:+$list,}$id=$(node_addr "$id")"; done
  echo "$list"
}

alive() { [[ -e "/proc/$1" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

stop_processes() {
  local pid deadline
  ((${#PIDS[@]})) || return 0
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  for pid in "${PIDS[@]}"; do
    while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  done
  say "cleanup: stopped ${#PIDS[@]} process(es) (pids ${PIDS[*]})"
}

show_logs() {
  local log
  for log in "$WORK"/logs/*.log; do
    [[ -f "$log" ]] || continue
    echo "--- $log (last 25 lines)" >&2
    tail -n 25 "$log" >&2 || true
  done
}

cleanup() {
  local rc=$? name
  set +e
  trap - EXIT INT TERM
  # A signal's trap runs under the redirections of the command it interrupted (a probe's
  # >/dev/null); the report goes to the script's own stdout and stderr.
  exec 1>&3 2>&4
  stop_processes
  if ((rc != 0)) && [[ -n "$WORK" ]]; then show_logs; fi
  ((${#NAMESPACES[@]})) && for name in "${NAMESPACES[@]}"; do ip netns del "$name"; done
  # Deleting a namespace deletes the veth end inside it and with it the pair; this is for
  # a pair whose namespace end never got there.
  ((${#VETHS[@]})) && for name in "${VETHS[@]}"; do
    ip link show "$name" >/dev/null 2>&1 && ip link del "$name"
  done
  ((BRIDGE_MADE)) && ip link del "$BRIDGE"
  ((FORWARD_RULE)) && "$IPT" -w -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  [[ -n "$WORK" ]] && rm -rf "$WORK"
  say "cleanup: deleted ${#NAMESPACES[@]} namespace(s), ${#VETHS[@]} veth pair(s), bridge $BRIDGE"
  echo
  echo "== multihost-test summary"
  ((${#SUMMARY[@]})) && printf '  %s\n' "${SUMMARY[@]}"
  if ((rc == 0)); then echo "multihost-test: ok"; else echo "multihost-test: FAILED (exit $rc)"; fi
  exit "$rc"
}

# ---- prerequisites

[[ "$(id -u)" == 0 ]] || unable "needs root (network namespaces, veth pairs, iptables)"
command -v ip >/dev/null || unable "needs ip (iproute2)"
command -v curl >/dev/null || unable "needs curl"
for candidate in iptables iptables-legacy; do
  if command -v "$candidate" >/dev/null && "$candidate" -w -L -n >/dev/null 2>&1; then
    IPT="$candidate"
    break
  fi
done
[[ -n "$IPT" ]] || unable "needs a working iptables (iptables or iptables-legacy)"
# Root in a container may still lack the capabilities; find out before making anything.
probe="mh-$SUFFIX-probe"
if ip netns add "$probe" 2>/dev/null; then
  ip netns del "$probe"
else
  unable "cannot create network namespaces here (needs CAP_SYS_ADMIN and CAP_NET_ADMIN)"
fi

exec 3>&1 4>&2
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== build ($BUILD_PROFILE)"
build_flags=(--quiet --locked -p catalog -p raft-node -p gateway)
[[ "$BUILD_PROFILE" == release ]] && build_flags+=(--release)
cargo build "${build_flags[@]}"
WORK="$(mktemp -d)"
mkdir -p "$WORK/logs" "$WORK/secrets"

# ---- the network: one namespace per host, a veth pair from each to the bridge

echo "== network: bridge $BRIDGE, $NET.0/24, suffix $SUFFIX, $IPT"
ip link add "$BRIDGE" type bridge
BRIDGE_MADE=1
ip link set "$BRIDGE" up
# With br_netfilter loaded, bridged frames cross the root namespace's FORWARD chain; a DROP
# policy there (Docker sets one) would cut every host off from the start.
if [[ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 0)" == 1 ]] &&
  ! "$IPT" -w -S FORWARD 2>/dev/null | grep -q -- '^-P FORWARD ACCEPT'; then
  "$IPT" -w -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  FORWARD_RULE=1
fi
index=0
for host in "${HOSTS[@]}"; do
  name="$(ns "$host")"
  veth="mh${SUFFIX}v$index"
  index=$((index + 1))
  ip netns add "$name"
  NAMESPACES+=("$name")
  ip link add "$veth" type veth peer name eth0 netns "$name"
  VETHS+=("$veth")
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$name" link set lo up
  ip -n "$name" addr add "${IP[$host]}/24" dev eth0
  ip -n "$name" link set eth0 up
  say "host $host: namespace $name, ${IP[$host]} (veth $veth)"
done
passed "6 hosts on bridge $BRIDGE"

# ---- secrets, as docs/deploy.md has them made: a cluster secret and an admin token

token() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
(umask 077 && token >"$WORK/secrets/cluster.token" && token >"$WORK/secrets/admin.token" &&
  printf 'Authorization: Bearer %s\n' "$(cat "$WORK/secrets/cluster.token")" >"$WORK/secrets/member.header")
member_flags=(--cluster-token-file "$WORK/secrets/cluster.token")
service_flags=("${member_flags[@]}" --admin-token-file "$WORK/secrets/admin.token")

# ---- processes, each inside its host's namespace

# Starts `$2...` in host $1's namespace; `ip netns exec` execs it, so $! is its pid.
start() {
  local host="$1"
  shift
  ip netns exec "$(ns "$host")" "$@" >>"$WORK/logs/$host.log" 2>&1 </dev/null &
  PIDS+=("$!")
  say "started $host (pid $!): $*"
}

# curl from the client host, with the cluster secret (node routes need it).
client_curl() { ip netns exec "$(ns client)" curl -sS -H "@$WORK/secrets/member.header" "$@"; }

# Polls `$2...` until it succeeds, for at most DEADLINE seconds; $1 says what for.
eventually() {
  local what="$1" deadline=$((SECONDS + DEADLINE))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${DEADLINE}s waiting for $what"
    sleep 0.2
  done
}

answers() { [[ "$(client_curl -o /dev/null -w '%{http_code}' --max-time 2 "http://$1/health")" != 000 ]]; }

echo "== start the services"
start catalog "$BIN/catalog" --listen "$CATALOG_ADDR" --data-dir "$WORK/catalog" "${service_flags[@]}"
eventually "the catalog at $CATALOG_ADDR" answers "$CATALOG_ADDR"
for id in "${NODES[@]}"; do
  bootstrap=()
  [[ "$id" == 1 ]] && bootstrap=(--bootstrap)
  start "node-$id" "$BIN/raft-node" --id "$id" --listen "$(node_addr "$id")" \
    --data-dir "$WORK/node-$id" --peers "$(peers)" --catalog "$CATALOG_ADDR" \
    "${bootstrap[@]}" "${service_flags[@]}"
done
for id in "${NODES[@]}"; do eventually "node-$id at $(node_addr "$id")" answers "$(node_addr "$id")"; done
start gateway "$BIN/gateway" --listen "$GATEWAY_ADDR" --catalog "$CATALOG_ADDR" \
  --nodes "$(peers)" "${member_flags[@]}"
eventually "the gateway at $GATEWAY_ADDR" answers "$GATEWAY_ADDR"
passed "catalog, 3 nodes and gateway listening on their hosts' addresses"

json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2" | head -n1; }
node_status() { client_curl -f --max-time 2 "http://$(node_addr "$1")/cluster/status"; }

# The node that says it leads, among those given (every node by default).
leader() {
  local id status
  for id in "${@:-${NODES[@]}}"; do
    status="$(node_status "$id" 2>/dev/null)" || continue
    if [[ "$(json_field state "$status")" == leader ]]; then
      echo "$id"
      return 0
    fi
  done
  return 1
}

gateway_healthy() { client_curl -f --max-time 3 "http://$GATEWAY_ADDR/health"; }
eventually "a Raft leader" leader
eventually "the gateway's /health" gateway_healthy
passed "node-$(leader) leads; the gateway is healthy"

# Buys one Tux under key $1 from the client host; prints the order number.
buy() {
  local answer
  answer="$(client_curl --max-time 40 -X POST "http://$GATEWAY_ADDR/orders" \
    -H "Idempotency-Key: $1" -d '{"name": "Tux", "quantity": 1}')" || fail "buy $1: no answer"
  sed -n 's/.*"order_number":\([0-9]*\).*/\1/p' <<<"$answer" | grep . || fail "buy $1: $answer"
}

echo "== buy through the gateway"
first="$(buy mh-1)"
second="$(buy mh-2)"
[[ "$second" == $((first + 1)) ]] || fail "order numbers not dense: $first then $second"
passed "two buys from the client host: orders $first and $second"

echo "== cut the leader's host off (iptables DROP in and out)"
cut="$(leader)" || fail "no leader to cut"
cut_ns="$(ns "node-$cut")"
ip netns exec "$cut_ns" "$IPT" -w -I INPUT -j DROP
ip netns exec "$cut_ns" "$IPT" -w -I OUTPUT -j DROP
say "node-$cut (${IP[node-$cut]}) is cut off"
if node_status "$cut" >/dev/null 2>&1; then fail "node-$cut still answers after the cut"; fi
passed "node-$cut (the leader) cut off; it no longer answers"

others=()
for id in "${NODES[@]}"; do [[ "$id" != "$cut" ]] && others+=("$id"); done
started="$(date +%s%N)"
third="$(buy mh-3)"
took_ms=$((($(date +%s%N) - started) / 1000000))
[[ "$third" == $((second + 1)) ]] || fail "order after failover not dense: $third after $second"
new_leader="$(leader "${others[@]}")" || fail "no leader among ${others[*]} after the buy"
passed "buy during the cut: order $third, via new leader node-$new_leader, in $took_ms ms"
[[ "$(buy mh-1)" == "$first" ]] || fail "a retried key got another order"
passed "a retried key answers its first order ($first)"

echo "== heal"
ip netns exec "$cut_ns" "$IPT" -w -D INPUT -j DROP
ip netns exec "$cut_ns" "$IPT" -w -D OUTPUT -j DROP
say "node-$cut is reachable again"

digests_agree() {
  local id d first_digest=""
  for id in "${NODES[@]}"; do
    d="$(client_curl -f --max-time 2 "http://$(node_addr "$id")/cluster/digest")" || return 1
    [[ "$(json_field orders "$d")" == 3 ]] || return 1
    d="$(json_field digest "$d")"
    [[ -n "$d" && (-z "$first_digest" || "$d" == "$first_digest") ]] || return 1
    first_digest="$d"
  done
  echo "$first_digest"
}
eventually "the three digests to agree on 3 orders" digests_agree
passed "healed: all three nodes hold 3 orders, digest $(digests_agree | cut -c1-16)..."

echo "== the gateway's view of the cluster"
view="$(client_curl -f --max-time 5 "http://$GATEWAY_ADDR/cluster")" || fail "GET /cluster"
echo "$view"
for id in "${NODES[@]}"; do
  grep -q "\"id\":$id,\"addr\":\"$(node_addr "$id")\"" <<<"$view" || fail "GET /cluster lacks node-$id"
done
passed "GET /cluster lists the three nodes at their hosts' addresses"
