# shellcheck shell=bash disable=SC2034  # sourced: the settings are used by the scripts
# Shared settings and helpers for the service scripts (sourced, not run).
#
# Every script keeps its state under one folder so that `stop` can find and
# stop exactly what `start` started, and so a test run and a demo run can live
# side by side (the test script points KARAFKAD_STATE_DIR elsewhere).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${KARAFKAD_STATE_DIR:-$ROOT/.run}"
LOG_DIR="$STATE_DIR/logs"
PID_DIR="$STATE_DIR/pids"
CACHE_DIR="${KARAFKAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/karafkad}"

# Ports: keep them below 32768, outside Linux's ephemeral range, or an outgoing connection
# may hold one just when a service wants to bind it.
KAFKA_VERSION="4.3.1"          # pinned; kafka-python 3.0.x is tested up to 4.3
KAFKA_PORT="${KARAFKAD_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KARAFKAD_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_SASL_PORT="${KARAFKAD_KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}"
KAFKA_SSL_PORT="${KARAFKAD_KAFKA_SSL_PORT:-$((KAFKA_PORT + 3))}"            # SSL, no client certificate
KAFKA_SASL_SSL_PORT="${KARAFKAD_KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 4))}"  # SASL_SSL, SCRAM
KAFKA_MTLS_PORT="${KARAFKAD_KAFKA_MTLS_PORT:-$((KAFKA_PORT + 5))}"          # SSL, client certificate required
KAFKA_SSL_BADHOST_PORT="${KARAFKAD_KAFKA_SSL_BADHOST_PORT:-$((KAFKA_PORT + 6))}"  # SSL, certificate for another host
KAFKA_HEAP="${KARAFKAD_KAFKA_HEAP:-768m}"
# The three-node cluster (scripts/kafka-cluster): node N listens on CLUSTER_PORT+N-1,
# its controller on CLUSTER_PORT+N+2.
CLUSTER_PORT="${KARAFKAD_CLUSTER_PORT:-$((KAFKA_PORT + 100))}"
CLUSTER_HEAP="${KARAFKAD_CLUSTER_HEAP:-384m}"
REDIS_PORT="${KARAFKAD_REDIS_PORT:-6379}"
# TLS port of scripts/redis; 0 switches it off. Unset, it is REDIS_PORT+1 when that is free.
REDIS_TLS_PORT="${KARAFKAD_REDIS_TLS_PORT:-$((REDIS_PORT + 1))}"
# Primary + replica + three sentinels (scripts/redis-ha): redis nodes on REDIS_HA_PORT and
# REDIS_HA_PORT+1, sentinels on REDIS_HA_PORT+2..+4.
REDIS_HA_PORT="${KARAFKAD_REDIS_HA_PORT:-$((REDIS_PORT + 100))}"
# Apicurio Registry (scripts/registry), a schema registry with a Confluent-compatible API:
# HTTP on REGISTRY_PORT (8081 is the port Confluent's registry uses), its management
# interface (health, metrics) on +1, HTTPS on +2 (KARAFKAD_REGISTRY_TLS_PORT=0: no HTTPS).
REGISTRY_VERSION="3.3.3"
REGISTRY_PORT="${KARAFKAD_REGISTRY_PORT:-8081}"
REGISTRY_MANAGEMENT_PORT="${KARAFKAD_REGISTRY_MANAGEMENT_PORT:-$((REGISTRY_PORT + 1))}"
REGISTRY_TLS_PORT="${KARAFKAD_REGISTRY_TLS_PORT:-$((REGISTRY_PORT + 2))}"
REGISTRY_HEAP="${KARAFKAD_REGISTRY_HEAP:-256m}"
# The OpenTelemetry Collector (scripts/otelcol): OTLP over gRPC on OTLP_GRPC_PORT, over HTTP on
# OTLP_HTTP_PORT. Derived from KAFKA_PORT (past the cluster's +100..+105) like the cluster's, so
# test runs that keep apart by their Kafka port keep their collectors apart too: 9292 and 9293.
OTLP_GRPC_PORT="${KARAFKAD_OTLP_GRPC_PORT:-$((KAFKA_PORT + 200))}"
OTLP_HTTP_PORT="${KARAFKAD_OTLP_HTTP_PORT:-$((OTLP_GRPC_PORT + 1))}"
# The collector release scripts/otelcol-build pins (go.mod: its otelcol, otlpreceiver and
# contrib's fileexporter are v0.161.0, their stable modules v1.67.0: the newest release at
# which contrib's file exporter resolves here).
OTELCOL_VERSION="0.161.0"
# Certificates (scripts/certs): CA, server and client certificates, and bad ones for negative tests.
TLS_DIR="${KARAFKAD_TLS_DIR:-$STATE_DIR/tls}"
TLS_STORE_PASSWORD="karafkad-store"       # the broker's PKCS12 keystores and truststore
TLS_KEY_PASSWORD="karafkad-key-secret"    # client-encrypted.key (tests of ssl_password)
VENV="${KARAFKAD_VENV:-$ROOT/.venv}"

mkdir -p "$LOG_DIR" "$PID_DIR"

say() { printf '%s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# proc_state PID: the process's state letter (R, S, T when stopped, Z when a zombie...).
proc_state() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    echo "${stat%% *}"
}

# alive PID: the process exists and is not a zombie (a process killed after its
# starter exited is a zombie until init reaps it, which can take seconds).
alive() {
    kill -0 "$1" 2>/dev/null && [[ "$(proc_state "$1")" != Z ]]
}

# pid_of NAME: the pid recorded for NAME if that process is still alive.
pid_of() {
    local file="$PID_DIR/$1.pid" pid
    [[ -f "$file" ]] || return 1
    pid="$(cat "$file")"
    [[ -n "$pid" ]] && alive "$pid" || return 1
    echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2 s.
wait_until() {
    local deadline=$((SECONDS + $1)) what="$2"
    shift 2
    until "$@"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.2
    done
}

# stop_pid NAME [SIGNAL]: stop the process recorded for NAME and wait for it.
# Only the recorded pid is signalled, never a process found by name.
stop_pid() {
    local name="$1" sig="${2:-TERM}" pid
    if ! pid="$(pid_of "$name")"; then
        rm -f "$PID_DIR/$name.pid"
        say "$name: not running"
        return 0
    fi
    kill "-$sig" "$pid" 2>/dev/null || true
    # A frozen (SIGSTOPped) process only acts on the signal once continued.
    kill -CONT "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while alive "$pid"; do
        if ((SECONDS >= deadline)); then
            say "$name: still running after 60 s, sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.2
    done
    rm -f "$PID_DIR/$name.pid"
    say "$name: stopped (pid $pid)"
}

# usage: print the running script's header comment (its usage) and exit 2.
usage() {
    sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

# ensure_certs [java]: generate the certificates in TLS_DIR if they are missing.
ensure_certs() { "$ROOT/scripts/certs" "${1:-pem}" >/dev/null; }

# free_ports NAME PORT...: die naming the first PORT something else listens on.
free_ports() {
    local name="$1" port
    shift
    for port in "$@"; do
        port_open "$port" && die "$name: port $port is taken by another process"
    done
    return 0
}

# need_packages CMD:PACKAGE...: install the Debian packages whose command is missing.
need_packages() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    ((${#missing[@]} == 0)) && return 0
    say "installing Debian packages: ${missing[*]}"
    local sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq >/dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
