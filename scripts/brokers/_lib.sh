# shellcheck shell=bash
# Settings and helpers shared by start.sh, stop.sh and ha.sh (sourced, never run on its own).
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

# wait_port PORT TRIES: until 127.0.0.1:PORT accepts a connection, trying TRIES times 0.05 s apart
wait_port() {
    local i
    for ((i = 0; i < $2; i++)); do port_open "$1" && return 0; sleep 0.05; done
    return 1
}

# check_ports_free NAME PORT...: die if a port is taken (by a process the caller did not start)
check_ports_free() {
    local name=$1 p; shift
    for p in "$@"; do
        if port_open "$p"; then
            die "$name: 127.0.0.1:$p is in use by a process $LOG_TAG did not start (from another BROKERS_DIR or HA_DIR, Docker, a system service?); stop it${PORTS_HINT-}"
        fi
    done
}

# lock_dir DIR SECONDS WHO: serialise the runs of WHO on DIR (fd 9; launched brokers must not
# inherit it)
lock_dir() {
    mkdir -p "$1"
    command -v flock >/dev/null 2>&1 || return 0
    exec 9>"$1/.lock"
    flock -w "$2" 9 || die "another $3 holds $1/.lock"
}

# Serialise start.sh/stop.sh runs on one BROKERS_DIR.
take_lock() { lock_dir "$BROKERS_DIR" 300 start.sh/stop.sh; }

# detach NAME PIDFILE LOG CMD...: run CMD detached (own session, no stdin, no lock fd), its output
# appended to LOG; returns once CMD wrote its pid to PIDFILE
detach() {
    local name=$1 pidfile=$2 logfile=$3; shift 3
    rm -f "$pidfile"
    printf '\n===== %s %s: launching %s\n' "$(date '+%F %T')" "$LOG_TAG" "$name" >> "$logfile"
    setsid "$@" >> "$logfile" 2>&1 < /dev/null 9>&- &
    for _ in $(seq 100); do [ -s "$pidfile" ] && return 0; sleep 0.02; done
    die "$name: could not launch (log: $logfile)"
}

# find_java: print Debian's default-java, else Java 17, else java on PATH
find_java() {
    local j
    for j in /usr/lib/jvm/default-java/bin/java /usr/lib/jvm/java-17-openjdk-*/bin/java; do
        if [ -x "$j" ]; then echo "$j"; return 0; fi
    done
    command -v java || die "no Java runtime found${JAVA_HINT-}"
}

# mvn_fetch LOG ARGS...: run Maven (batch mode, checksums verified, MAVEN_REPO_LOCAL if set) with
# ARGS, its output appended to LOG; on failure, show its ERROR lines and return 1
mvn_fetch() {
    local logfile=$1 repo=(); shift
    [ -n "${MAVEN_REPO_LOCAL:-}" ] && repo+=("-Dmaven.repo.local=$MAVEN_REPO_LOCAL")
    if ! mvn -B -C "${repo[@]}" "$@" >> "$logfile" 2>&1 < /dev/null; then
        grep -E 'ERROR' "$logfile" | head -5 >&2
        return 1
    fi
}

# artemis_home LOG: print the unpacked distribution $BROKERS_CACHE/apache-artemis-$ARTEMIS_VERSION
# (start.sh and ha.sh share it), fetched from Maven Central with Maven the first time (checksums
# verified, the output in LOG) and kept.
artemis_home() {
    local home=$BROKERS_CACHE/apache-artemis-$ARTEMIS_VERSION t0 tarball
    if [ -f "$home/.unpacked" ]; then echo "$home"; return 0; fi
    command -v mvn >/dev/null 2>&1 || die "artemis: Maven (mvn) is needed to fetch apache-artemis $ARTEMIS_VERSION"
    t0=$(now)
    mkdir -p "$BROKERS_CACHE"
    tarball=$BROKERS_CACHE/apache-artemis-$ARTEMIS_VERSION-bin.tar.gz
    log "artemis: fetching org.apache.activemq:apache-artemis:$ARTEMIS_VERSION:tar.gz:bin with Maven" >&2
    : > "$1"
    mvn_fetch "$1" dependency:copy \
        "-Dartifact=org.apache.activemq:apache-artemis:$ARTEMIS_VERSION:tar.gz:bin" \
        "-DoutputDirectory=$BROKERS_CACHE" || die "artemis: mvn dependency:copy failed (log: $1)"
    rm -rf "$home" "$home.tmp"
    mkdir -p "$home.tmp"
    tar -xzf "$tarball" -C "$home.tmp" --strip-components=1 || die "artemis: cannot unpack $tarball"
    rm -f "$tarball"
    touch "$home.tmp/.unpacked"
    mv "$home.tmp" "$home"
    log "artemis: $ARTEMIS_VERSION fetched and unpacked into $home in $(since "$t0")s" >&2
    echo "$home"
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

# live_pid PIDFILE MARKERS_FUNCTION NAME: print the pid in PIDFILE if that process is alive and
# its command line contains one of the lines that MARKERS_FUNCTION NAME prints (pid-reuse guard)
live_pid() {
    local f=$1 pid m cmd
    [ -s "$f" ] || return 1
    pid=$(cat "$f")
    case $pid in '' | *[!0-9]*) return 1 ;; esac
    gone "$pid" && return 1
    cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    while IFS= read -r m; do
        case $cmd in *"$m"*) echo "$pid"; return 0 ;; esac
    done < <("$2" "$3")
    return 1
}

# pid_of NAME: print the pid from $RUN/NAME.pid if that process is alive and still ours
pid_of() { live_pid "$RUN/$1.pid" markers "$1"; }

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

# ---------------------------------------------------------------- broker command lines and files
# shared by start.sh (the single brokers) and ha.sh (the highly available set-ups)

# activemq_args DIR: set ACTIVEMQ_ARGS to what follows the JVM options on the command line of
# Debian's ActiveMQ Classic with its base in DIR (DIR/conf/activemq.xml, DIR/data, DIR/tmp), run
# in the foreground: the JVM flags of Debian's /usr/bin/activemq (that script re-reads Debian's
# options and switches user and base directory, so it is not run itself).
activemq_args() {
    ACTIVEMQ_ARGS=(--add-reads=java.xml=java.logging
        --add-opens java.base/java.security=ALL-UNNAMED --add-opens java.base/java.net=ALL-UNNAMED
        --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED
        --add-opens java.naming/javax.naming.spi=ALL-UNNAMED --add-opens java.rmi/sun.rmi.transport.tcp=ALL-UNNAMED
        --add-opens java.base/java.util.concurrent=ALL-UNNAMED --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
        -Dactivemq.classpath="$1/conf" -Dactivemq.home=/usr/share/activemq
        -Dactivemq.base="$1" -Dactivemq.conf="$1/conf" -Dactivemq.data="$1/data"
        -Djava.io.tmpdir="$1/tmp"
        -jar /usr/share/activemq/bin/activemq.jar start "xbean:file:$1/conf/activemq.xml")
}

# write_activemq_log4j FILE: Debian's ActiveMQ logs through slf4j -> log4j 1.2, so a
# log4j.properties (not log4j2) applies: INFO to the console, Spring and XBean at WARN.
write_activemq_log4j() {
    cat > "$1" <<'LOG4J'
log4j.rootLogger=INFO, stdout
log4j.logger.org.springframework=WARN
log4j.logger.org.apache.xbean=WARN
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=%d{ISO8601} %5p | %m%n
LOG4J
}

# rabbitmq_args DIR NODENAME PIDFILE DIST_PORT: set RABBITMQ_ARGS to the command that runs
# Debian's RabbitMQ node NODENAME from DIR (DIR/home, DIR/conf, DIR/mnesia, DIR/log), its Erlang
# VM's pid in PIDFILE, on loopback. RUNNING_UNDER_SYSTEMD makes Debian's wrapper exec the Erlang
# VM instead of running it as a child: one process, whose SIGTERM handler shuts RabbitMQ down
# cleanly.
rabbitmq_args() {
    RABBITMQ_ARGS=(env HOME="$1/home" RUNNING_UNDER_SYSTEMD=true
        RABBITMQ_NODENAME="$2"
        RABBITMQ_CONF_ENV_FILE="$1/conf/rabbitmq-env.conf"
        RABBITMQ_CONFIG_FILE="$1/conf/rabbitmq.conf"
        RABBITMQ_CONFIG_FILES="$1/conf/conf.d"
        RABBITMQ_ADVANCED_CONFIG_FILE="$1/conf/advanced.config"
        RABBITMQ_ENABLED_PLUGINS_FILE="$1/conf/enabled_plugins"
        RABBITMQ_MNESIA_BASE="$1/mnesia" RABBITMQ_LOG_BASE="$1/log"
        RABBITMQ_PID_FILE="$3" RABBITMQ_DIST_PORT="$4"
        ERL_EPMD_ADDRESS=127.0.0.1
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        /usr/lib/rabbitmq/bin/rabbitmq-server)
}

# JVM flags of every Artemis broker, after its own options (in JAVA_ARGS)
ARTEMIS_JVM_FLAGS="-Dlog4j2.disableJmx=true --add-opens java.base/jdk.internal.misc=ALL-UNNAMED"

# write_artemis_logins DIR: Artemis's accounts in DIR (an instance's etc/): admin/admin and
# guest/guest (PropertiesLoginModule takes plain-text passwords); no login = anonymous as guest; a
# wrong passcode is refused (credentialsInvalidate).
write_artemis_logins() {
    printf 'admin = admin\nguest = guest\n' > "$1/artemis-users.properties"
    printf 'amq = admin,guest\n' > "$1/artemis-roles.properties"
    cat > "$1/login.config" <<'JAAS'
activemq {
   org.apache.activemq.artemis.spi.core.security.jaas.PropertiesLoginModule sufficient
       reload=false
       org.apache.activemq.jaas.properties.user="artemis-users.properties"
       org.apache.activemq.jaas.properties.role="artemis-roles.properties";
   org.apache.activemq.artemis.spi.core.security.jaas.GuestLoginModule sufficient
       credentialsInvalidate=true
       org.apache.activemq.jaas.guest.user="guest"
       org.apache.activemq.jaas.guest.role="amq";
};
JAAS
}

# artemis_create JAVA HOME MEMORY DATA INSTANCE LOG: "artemis create" of the distribution HOME
# makes the broker instance INSTANCE (STOMP-only defaults, admin/admin, role amq, anonymous
# allowed, loopback, NIO journal in DATA, heap MEMORY), its output in LOG; returns its status.
artemis_create() {
    JAVACMD=$1 "$2/bin/artemis" create --silent --force --user admin --password admin \
        --role amq --allow-anonymous --host 127.0.0.1 --no-web --no-amqp-acceptor \
        --no-mqtt-acceptor --no-hornetq-acceptor --nio --no-autotune --java-memory "$3" \
        --data "$4" "$5" > "$6" 2>&1 < /dev/null
}
