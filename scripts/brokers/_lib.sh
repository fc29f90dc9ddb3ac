# shellcheck shell=bash
# Settings and helpers shared by start.sh and stop.sh (sourced, never run on its own).
# The variables are documented at the top of start.sh.
# shellcheck disable=SC2034  # the settings below are used by the scripts that source this file

BROKERS_DIR=${BROKERS_DIR:-${TMPDIR:-/tmp}/stomp-brokers}
KNOWN_BROKERS="activemq rabbitmq artemis apollo"
# started when BROKERS is not set (Apollo only on request: the suite does not cover it yet);
# stop.sh stops every known one
DEFAULT_BROKERS="activemq rabbitmq artemis"
if [ "${LOG_TAG-}" = stop.sh ]; then BROKERS=${BROKERS:-$KNOWN_BROKERS}; else BROKERS=${BROKERS:-$DEFAULT_BROKERS}; fi
STOP_TIMEOUT=${STOP_TIMEOUT:-30}
PYTHON=${PYTHON:-python3}

AMQ_STOMP_PORT=${AMQ_STOMP_PORT:-61613}
AMQ_STOMP_TLS_PORT=${AMQ_STOMP_TLS_PORT:-61614}
AMQ_STOMP_NIO_PORT=${AMQ_STOMP_NIO_PORT:-61612}
AMQ_WS_PORT=${AMQ_WS_PORT:-61615}
AMQ_WSS_PORT=${AMQ_WSS_PORT:-61617}
RABBIT_STOMP_PORT=${RABBIT_STOMP_PORT:-61623}
RABBIT_STOMP_TLS_PORT=${RABBIT_STOMP_TLS_PORT:-61624}
RABBIT_WS_PORT=${RABBIT_WS_PORT:-15674}
RABBIT_WSS_PORT=${RABBIT_WSS_PORT:-15673}
RABBIT_DIST_PORT=${RABBIT_DIST_PORT:-25673}
RABBIT_NODENAME=${RABBIT_NODENAME:-stomptest@localhost}
ARTEMIS_STOMP_PORT=${ARTEMIS_STOMP_PORT:-61653}
ARTEMIS_STOMP_TLS_PORT=${ARTEMIS_STOMP_TLS_PORT:-61654}
ARTEMIS_VERSION=${ARTEMIS_VERSION:-2.40.0}
APOLLO_STOMP_PORT=${APOLLO_STOMP_PORT:-61663}
APOLLO_STOMP_TLS_PORT=${APOLLO_STOMP_TLS_PORT:-61664}
APOLLO_VERSION=1.7.1
# downloaded broker distributions (Artemis), kept across runs and BROKERS_DIRs
BROKERS_CACHE=${BROKERS_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/stomp-brokers}

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUN=$BROKERS_DIR/run
LOGS=$BROKERS_DIR/logs
TLS=$BROKERS_DIR/tls
AMQ_DIR=$BROKERS_DIR/activemq
RMQ_DIR=$BROKERS_DIR/rabbitmq
ART_DIR=$BROKERS_DIR/artemis
APL_DIR=$BROKERS_DIR/apollo
ENV_FILE=$BROKERS_DIR/brokers.env

log() { echo "[$LOG_TAG] $*"; }
die() { echo "[$LOG_TAG] ERROR: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# handle_args "$@": -h/--help prints the calling script's header; settings are environment only
handle_args() {
    case ${1-} in
        '') return 0 ;;
        -h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        *) die "no arguments are taken (settings are environment variables: see $0 --help)" ;;
    esac
}

for _b in $BROKERS; do
    case " $KNOWN_BROKERS " in
        *" $_b "*) ;;
        *) die "unknown broker '$_b' in BROKERS (known: $KNOWN_BROKERS)" ;;
    esac
done
unset _b

wants() { case " $BROKERS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Serialise start.sh/stop.sh runs on one BROKERS_DIR (fd 9; launched brokers must not inherit it).
take_lock() {
    mkdir -p "$BROKERS_DIR"
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$BROKERS_DIR/.lock"
    flock -w 300 9 || die "another start.sh/stop.sh holds $BROKERS_DIR/.lock"
}

# gone PID: no such process, or a zombie that only waits for PID 1 to reap it
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

# markers NAME: strings one of which the command line of our broker process contains (pid-reuse guard).
# RabbitMQ's pid goes through exec: bash -> rabbitmq-server (sh) -> erl -> beam.smp (-home DIR).
markers() {
    case $1 in
        activemq) echo "activemq.base=$AMQ_DIR" ;;
        rabbitmq) printf '%s\n' "-home $RMQ_DIR/home" "rabbitmq-server" ;;
        rabbitmq-beam) echo "-home $RMQ_DIR/home" ;;
        epmd) echo "epmd" ;;
        artemis) echo "artemis.instance=$ART_DIR/instance" ;;
        apollo) echo "apollo.base=$APL_DIR/instance" ;;
    esac
}

# pid_of NAME: print the pid from $RUN/NAME.pid if that process is alive and still ours
pid_of() {
    local f=$RUN/$1.pid pid m cmd
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    gone "$pid" && return 1
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    while IFS= read -r m; do
        case $cmd in *"$m"*) echo "$pid"; return 0 ;; esac
    done < <(markers "$1")
    return 1
}

wait_gone() {  # PID SECONDS
    local i=$(($2 * 10))
    while ! gone "$1"; do
        [ $((i -= 1)) -ge 0 ] || return 1
        sleep 0.1
    done
}

signal_and_wait() {  # LABEL PID SIGNAL
    local t0; t0=$(now)
    kill "-$3" "$2" 2>/dev/null || true
    if ! wait_gone "$2" "$STOP_TIMEOUT"; then
        log "$1 (pid $2) still alive ${STOP_TIMEOUT}s after SIG$3, sending SIGKILL"
        kill -KILL "$2" 2>/dev/null || true
        wait_gone "$2" 10 || log "$1 (pid $2) survived SIGKILL"
    fi
    log "$1 stopped (pid $2, SIG$3) in $(since "$t0")s"
}

# stop_broker NAME [SIGNAL]: stop our broker process (TERM = clean shutdown, KILL = crash)
stop_broker() {
    local name=$1 sig=${2:-TERM} pid
    if pid=$(pid_of "$name"); then
        signal_and_wait "$name" "$pid" "$sig"
    elif [ -e "$RUN/$name.pid" ]; then
        log "$name: not running (stale pid file removed)"
    else
        log "$name: not running"
    fi
    rm -f "$RUN/$name.pid" "$RUN/$name.env"
    if [ "$name" = rabbitmq ]; then
        # RabbitMQ writes its own pid file; normally the same process as above. An Erlang VM
        # left over from a wrapper that was killed (older layouts) is stopped here.
        if pid=$(pid_of rabbitmq-beam); then signal_and_wait "rabbitmq (erlang vm)" "$pid" "$sig"; fi
        rm -f "$RUN/rabbitmq-beam.pid"
        # epmd only if we started it and no Erlang node is registered with it any more
        if pid=$(pid_of epmd); then
            if epmd -names 2>/dev/null | grep -q '^name '; then
                log "epmd left running: other Erlang nodes are registered with it"
            else
                kill -TERM "$pid" 2>/dev/null || true
                wait_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
                rm -f "$RUN/epmd.pid"
            fi
        fi
    fi
}

# shq VALUE: VALUE quoted for a POSIX shell only when it needs it
shq() {
    case $1 in
        '' | *[!A-Za-z0-9_./:,@%+=-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
        *) printf '%s' "$1" ;;
    esac
}
kv() { printf '%s=%s\n' "$1" "$(shq "$2")"; }

# write_env: $BROKERS_DIR/brokers.env lists the brokers that are up now (their $RUN/NAME.env
# fragments, written by start.sh once the broker answered); removed when none is up.
write_env() {
    local b up=()
    for b in $KNOWN_BROKERS; do
        if pid_of "$b" >/dev/null && [ -s "$RUN/$b.env" ]; then up+=("$b"); fi
    done
    if [ ${#up[@]} -eq 0 ]; then
        rm -f "$ENV_FILE"
        return 0
    fi
    {
        echo "# Written by scripts/brokers/start.sh (and rewritten by stop.sh): the STOMP brokers that are up."
        echo "# Shell syntax: load with  set -a; . \"$ENV_FILE\"; set +a"
        kv STOMP_BROKERS "${up[*]}"
        kv STOMP_BROKERS_DIR "$BROKERS_DIR"
        kv STOMP_TLS_CA "$TLS/ca.crt"
        kv STOMP_TLS_CLIENT_CERT "$TLS/client.crt"
        kv STOMP_TLS_CLIENT_KEY "$TLS/client.key"
        for b in "${up[@]}"; do cat "$RUN/$b.env"; done
    } > "$ENV_FILE.tmp"
    mv -f "$ENV_FILE.tmp" "$ENV_FILE"
}
