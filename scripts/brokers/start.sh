#!/usr/bin/env bash
# scripts/brokers/start.sh - install (if missing) and start real STOMP brokers on loopback for the
# integration tests, without Docker and without systemd. Stop them with scripts/brokers/stop.sh.
#
#   ActiveMQ Classic 5.17 (Debian "activemq", runs on the system's Java 17)
#       stomp 127.0.0.1:61613, stomp+ssl :61614, stomp+nio :61612, STOMP over WebSocket
#       ws://127.0.0.1:61615/ and wss://127.0.0.1:61617/ (the ws transport of activemq-http with its
#       Jetty 9.4 jars, which Debian's package lacks: fetched with mvn once into $BROKERS_CACHE)
#       logins admin/admin, guest/guest, or none; CONNECT host "localhost"
#       persistent: KahaDB in $BROKERS_DIR/activemq/data; policy persistJMSRedelivered="true" (an
#       un-acked message redelivered after a restart carries redelivered:true); a NACKed or expired
#       message of queue X goes to queue DLQ.X (non-persistent ones are dropped)
#   RabbitMQ 3.10 + rabbitmq_stomp (Debian "rabbitmq-server")
#       stomp 127.0.0.1:61623, stomp over TLS :61624 (Erlang distribution :25673, epmd :4369)
#       rabbitmq_web_stomp: ws://127.0.0.1:15674/ws, wss://127.0.0.1:15673/ws (binary frames out)
#       login guest/guest (also used for a CONNECT without login); vhosts "/", "localhost", "127.0.0.1"
#   ActiveMQ Artemis 2.40.0 (Maven Central apache-artemis bin tar.gz, fetched with mvn once, kept in
#       $BROKERS_CACHE; "artemis create" instance in $BROKERS_DIR/artemis)
#       stomp 127.0.0.1:61653, stomp+ssl :61654; /queue/x = anycast address x, /topic/x = multicast
#       logins admin/admin, guest/guest, or none; persistent NIO journal; a message delivered
#       ARTEMIS_MAX_DELIVERY_ATTEMPTS times without ACK goes to queue DLQ.<address> (NACK drops it)
#   Apache Apollo 1.7.1 (only with BROKERS=apollo: the suite does not cover it yet; its module jars
#       from Maven Central + JAXB, assembled with mvn once into $BROKERS_CACHE)
#       stomp 127.0.0.1:61663, stomp over TLS :61664; logins admin/admin, guest/guest, or none
#
# TLS: a test CA ($BROKERS_DIR/tls/ca.crt) signs the server certificate (CN=localhost, SAN
# DNS:localhost, IP:127.0.0.1) and a client certificate (client.crt/client.key, CN=stomp-test-client).
# Every broker asks for a client certificate, verifies it against the CA when one is sent, and accepts
# clients without one (ActiveMQ and Artemis wantClientAuth; RabbitMQ verify_peer +
# fail_if_no_peer_cert=false; Apollo client_auth=want).
#
# Environment (all optional):
#   BROKERS="activemq rabbitmq artemis"   the brokers to start (also: apollo); others are left as they are
#   BROKERS_CACHE=${XDG_CACHE_HOME:-~/.cache}/stomp-brokers   downloaded Artemis / Apollo, kept
#   MAVEN_REPO_LOCAL      Maven's local repository for those downloads (default: Maven's own)
#   ARTEMIS_VERSION=2.40.0  ARTEMIS_STOMP_PORT=61653  ARTEMIS_STOMP_TLS_PORT=61654
#   ARTEMIS_JAVA_OPTS="-Xms64m -Xmx512m -XX:+UseSerialGC"  ARTEMIS_MAX_DELIVERY_ATTEMPTS=10
#   APOLLO_STOMP_PORT=61663  APOLLO_STOMP_TLS_PORT=61664  APOLLO_JAVA_OPTS (as ARTEMIS_JAVA_OPTS)
#   BROKERS_DIR=${TMPDIR:-/tmp}/stomp-brokers   configuration, data, logs, TLS files, brokers.env
#   KEEP_STATE=0          0: a broker that is (re)started begins empty (KahaDB / mnesia wiped)
#                         1: keep its stored queues and messages (restart in the middle of a test)
#   AMQ_KEEP_STATE, RABBIT_KEEP_STATE, ARTEMIS_KEEP_STATE, APOLLO_KEEP_STATE   the same for one
#                         broker (default: $KEEP_STATE)
#   START_TIMEOUT=90      seconds to wait, per broker, for STOMP CONNECTED
#   STOP_TIMEOUT=30       seconds before SIGKILL when a changed configuration forces a restart
#   AMQ_STOMP_PORT=61613  AMQ_STOMP_TLS_PORT=61614  AMQ_STOMP_NIO_PORT=61612
#   AMQ_WS_PORT=61615  AMQ_WSS_PORT=61617
#   RABBIT_STOMP_PORT=61623  RABBIT_STOMP_TLS_PORT=61624  RABBIT_DIST_PORT=25673
#   RABBIT_WS_PORT=15674  RABBIT_WSS_PORT=15673
#   RABBIT_NODENAME=stomptest@localhost
#   AMQ_JAVA=/path/to/java (default: Debian's default-java, else Java 17, else java on PATH)
#   AMQ_JAVA_OPTS="-Xms64m -Xmx512m -XX:+UseSerialGC"
#   PYTHON=python3        Python 3.10+ for stomp_ping.py, the readiness check
#
# Writes $BROKERS_DIR/brokers.env, shell "NAME=value" lines for the brokers that are up:
#   STOMP_BROKERS ("activemq rabbitmq"), STOMP_BROKERS_DIR, STOMP_TLS_CA, STOMP_TLS_CLIENT_CERT,
#   STOMP_TLS_CLIENT_KEY, and per broker (ACTIVEMQ, RABBITMQ, ARTEMIS, APOLLO): STOMP_<B>_HOST, STOMP_<B>_PORT,
#   STOMP_<B>_TLS_PORT, STOMP_<B>_LOGIN, STOMP_<B>_PASSCODE, STOMP_<B>_VHOST; also
#   STOMP_ACTIVEMQ_NIO_PORT, STOMP_<B>_DLQ_PREFIX (ActiveMQ, Artemis), STOMP_<B>_VERSION (Artemis, Apollo);
#   STOMP_<B>_WS_URL and STOMP_<B>_WSS_URL (ActiveMQ, RabbitMQ: STOMP over WebSocket).   Load: set -a; . "$file"; set +a
#
# Idempotent: a broker that already runs (our pid file, live process) with the same configuration
# is only checked (a second run takes about a second); one whose configuration changed is restarted.
# Restart one broker, keeping its state (tests/integration/_brokers.py BrokerInfo.restart()):
#   BROKERS=rabbitmq scripts/brokers/stop.sh && BROKERS=rabbitmq KEEP_STATE=1 scripts/brokers/start.sh
# Needs root (or sudo) only for apt-get, and only when a package is missing.
set -euo pipefail

LOG_TAG=start.sh
# shellcheck source-path=SCRIPTDIR source=_lib.sh
. "$(dirname "$0")/_lib.sh"
handle_args "$@"

START_TIMEOUT=${START_TIMEOUT:-90}
KEEP_STATE=${KEEP_STATE:-0}
AMQ_KEEP_STATE=${AMQ_KEEP_STATE:-$KEEP_STATE}
RABBIT_KEEP_STATE=${RABBIT_KEEP_STATE:-$KEEP_STATE}
ART_KEEP_STATE=${ARTEMIS_KEEP_STATE:-$KEEP_STATE}
APL_KEEP_STATE=${APOLLO_KEEP_STATE:-$KEEP_STATE}
AMQ_JAVA_OPTS=${AMQ_JAVA_OPTS:-"-Xms64m -Xmx512m -XX:+UseSerialGC"}
ART_JAVA_OPTS=${ARTEMIS_JAVA_OPTS:-"-Xms64m -Xmx512m -XX:+UseSerialGC"}
ARTEMIS_MAX_DELIVERY_ATTEMPTS=${ARTEMIS_MAX_DELIVERY_ATTEMPTS:-10}
APL_JAVA_OPTS=${APOLLO_JAVA_OPTS:-"-Xms64m -Xmx512m -XX:+UseSerialGC"}
JAVA_HINT=" (set AMQ_JAVA)"  # for find_java and check_ports_free (_lib.sh)
PORTS_HINT=" or set the *_PORT variables"

T_START=$(now)
take_lock
mkdir -p "$RUN" "$LOGS" "$TLS"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root (or sudo) to run: $*"; fi
}

# ---------------------------------------------------------------- packages
install_missing() {
    local want=(openssl) missing=() p t0 policy=/usr/sbin/policy-rc.d created=0
    wants activemq && want+=(activemq)
    wants rabbitmq && want+=(rabbitmq-server)
    command -v "$PYTHON" >/dev/null 2>&1 || want+=(python3)
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    [ ${#missing[@]} -gt 0 ] || return 0
    command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get to install them"
    t0=$(now)
    log "installing: ${missing[*]}"
    # Keep the packages' maintainer scripts from starting system-wide brokers.
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        created=1
        trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 -o Acquire::Retries=3)
    if ! as_root "${apt[@]}" update > "$LOGS/apt-update.log" 2>&1; then
        tail -20 "$LOGS/apt-update.log" >&2; die "apt-get update failed (log: $LOGS/apt-update.log)"
    fi
    if ! as_root "${apt[@]}" install -y --no-install-recommends "${missing[@]}" > "$LOGS/apt-install.log" 2>&1; then
        tail -30 "$LOGS/apt-install.log" >&2; die "apt-get install failed (log: $LOGS/apt-install.log)"
    fi
    if [ $created = 1 ]; then as_root rm -f "$policy"; trap - EXIT; fi
    log "apt-get update + install took $(since "$t0")s"
}

# ---------------------------------------------------------------- TLS material
certs_valid() {
    local f
    for f in ca.key ca.crt server.key server.crt server.p12 client.key client.crt; do
        [ -s "$TLS/$f" ] || return 1
    done
    for f in ca.crt server.crt client.crt; do
        openssl x509 -checkend 86400 -noout -in "$TLS/$f" >/dev/null 2>&1 || return 1
    done
}

make_certs() {
    certs_valid && return 0
    local t0 cnf=$TLS/openssl.cnf
    t0=$(now)
    rm -f "$TLS"/*
    cat > "$cnf" <<'EOF'
# generated by scripts/brokers/start.sh: a test CA, a server and a client certificate
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    (
        umask 077
        set -e
        exec > "$LOGS/tls.log" 2>&1
        openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 -config "$cnf" -extensions ca_ext \
            -subj "/CN=STOMP test CA" -keyout "$TLS/ca.key" -out "$TLS/ca.crt"
        for leaf in server:localhost client:stomp-test-client; do
            openssl req -new -newkey rsa:2048 -nodes -config "$cnf" -subj "/CN=${leaf#*:}" \
                -keyout "$TLS/${leaf%%:*}.key" -out "$TLS/${leaf%%:*}.csr"
            openssl x509 -req -in "$TLS/${leaf%%:*}.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" \
                -set_serial "0x$(openssl rand -hex 16)" -days 3650 -extfile "$cnf" \
                -extensions "${leaf%%:*}_ext" -out "$TLS/${leaf%%:*}.crt"
            rm -f "$TLS/${leaf%%:*}.csr"
        done
        openssl verify -CAfile "$TLS/ca.crt" "$TLS/server.crt" "$TLS/client.crt"
        # ActiveMQ (Java): key store with the server key and chain, trust store with the CA
        openssl pkcs12 -export -name broker -in "$TLS/server.crt" -inkey "$TLS/server.key" \
            -certfile "$TLS/ca.crt" -out "$TLS/server.p12" -passout pass:password
    ) || { cat "$LOGS/tls.log" >&2; die "making the TLS certificates failed"; }
    chmod 644 "$TLS"/*.crt "$TLS/openssl.cnf"
    log "made a test CA, server and client certificates in $TLS ($(since "$t0")s)"
}

# ActiveMQ's trust store (the CA, to verify client certificates): a PKCS12 trust store Java reads
# needs keytool (openssl 3.0 cannot mark the entry as trusted for Java).
make_truststore() {  # JAVA
    [ -s "$TLS/truststore.p12" ] && [ "$TLS/truststore.p12" -nt "$TLS/ca.crt" ] && return 0
    local keytool
    keytool=$(dirname "$(readlink -f "$1")")/keytool
    [ -x "$keytool" ] || keytool=$(command -v keytool) || die "no keytool next to $1"
    rm -f "$TLS/truststore.p12"
    "$keytool" -importcert -noprompt -alias stomp-test-ca -file "$TLS/ca.crt" -storetype PKCS12 \
        -keystore "$TLS/truststore.p12" -storepass password >> "$LOGS/tls.log" 2>&1 \
        || { tail -5 "$LOGS/tls.log" >&2; die "keytool failed (log: $LOGS/tls.log)"; }
}

# ---------------------------------------------------------------- launching
launch() {  # NAME CMD...: start CMD detached (own session, no stdin, no lock fd), pid -> $RUN/NAME.pid
    local name=$1; shift
    # shellcheck disable=SC2016  # $$, $0 and $@ belong to the inner bash
    detach "$name" "$RUN/$name.pid" "$LOGS/$name.log" bash -c 'echo $$ > "$0"; exec "$@"' "$RUN/$name.pid" "$@"
}

# apply_config NAME DIR: DIR/conf.new holds the generated configuration. Returns 0 when the broker
# must be launched (not running, or running with a different configuration: stopped here), 1 when
# it already runs with exactly this configuration.
apply_config() {
    local name=$1 dir=$2
    if pid_of "$name" >/dev/null; then
        if diff -r "$dir/conf" "$dir/conf.new" >/dev/null 2>&1; then
            rm -rf "$dir/conf.new"
            log "$name already running (pid $(pid_of "$name"))"
            return 1
        fi
        log "$name: configuration changed, restarting it"
        stop_broker "$name" TERM
    fi
    rm -rf "$dir/conf"
    mv "$dir/conf.new" "$dir/conf"
    return 0
}

tls_fingerprint() { openssl x509 -noout -fingerprint -sha256 -in "$TLS/ca.crt" | sed 's/.*=//'; }

declare -A LAUNCHED_AT=()

# ---------------------------------------------------------------- ActiveMQ
# The ws:// and wss:// transports of ActiveMQ Classic live in activemq-http, which Debian's
# package leaves out with the Jetty 9.4 jars it needs; the versions are those of ActiveMQ 5.17.2.
AMQ_WS_JETTY=9.4.48.v20220622
AMQ_WS_ARTIFACTS="org.apache.activemq:activemq-http:5.17.2 javax.servlet:javax.servlet-api:3.1.0
 org.eclipse.jetty:jetty-server:$AMQ_WS_JETTY org.eclipse.jetty:jetty-http:$AMQ_WS_JETTY
 org.eclipse.jetty:jetty-io:$AMQ_WS_JETTY org.eclipse.jetty:jetty-util:$AMQ_WS_JETTY
 org.eclipse.jetty:jetty-servlet:$AMQ_WS_JETTY org.eclipse.jetty:jetty-security:$AMQ_WS_JETTY
 org.eclipse.jetty:jetty-client:$AMQ_WS_JETTY
 org.eclipse.jetty.websocket:websocket-api:$AMQ_WS_JETTY
 org.eclipse.jetty.websocket:websocket-common:$AMQ_WS_JETTY
 org.eclipse.jetty.websocket:websocket-client:$AMQ_WS_JETTY
 org.eclipse.jetty.websocket:websocket-servlet:$AMQ_WS_JETTY
 org.eclipse.jetty.websocket:websocket-server:$AMQ_WS_JETTY"

# activemq_ws_jars: print the directory $BROKERS_CACHE/activemq-ws-5.17.2 holding those jars,
# fetched from Maven Central with mvn once.
activemq_ws_jars() {
    local dir=$BROKERS_CACHE/activemq-ws-5.17.2 a t0
    if [ -f "$dir/.complete" ]; then echo "$dir"; return 0; fi
    command -v mvn >/dev/null 2>&1 || die "activemq: Maven (mvn) is needed to fetch the ws transport jars"
    t0=$(now)
    mkdir -p "$dir"
    log "activemq: fetching the ws transport (activemq-http 5.17.2, Jetty $AMQ_WS_JETTY) with Maven" >&2
    for a in $AMQ_WS_ARTIFACTS; do
        mvn_fetch "$LOGS/activemq-ws-fetch.log" dependency:copy "-Dartifact=$a" "-DoutputDirectory=$dir" ||
            die "activemq: mvn dependency:copy $a failed (log: $LOGS/activemq-ws-fetch.log)"
    done
    touch "$dir/.complete"
    log "activemq: ws transport jars in $dir ($(since "$t0")s)" >&2
    echo "$dir"
}

start_activemq() {
    local java jars; java=${AMQ_JAVA:-$(find_java)}
    make_truststore "$java"
    jars=$(activemq_ws_jars)
    rm -rf "$AMQ_DIR/conf.new"
    mkdir -p "$AMQ_DIR/conf.new"
    cat > "$AMQ_DIR/conf.new/activemq.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/brokers/start.sh: ActiveMQ Classic test broker, STOMP on loopback only.
     test CA sha256 $(tls_fingerprint); java $java; ws jars $jars -->
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
       http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <bean class="org.springframework.beans.factory.config.PropertyPlaceholderConfigurer"/>
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="localhost" useJmx="false"
          persistent="true" schedulerSupport="false" dataDirectory="\${activemq.data}">
    <destinationPolicy>
      <policyMap>
        <policyEntries>
          <!-- persistJMSRedelivered: messages delivered but not acked before a restart come back
               with redelivered:true. A NACKed (poison) or expired message of X goes to DLQ.X. -->
          <policyEntry queue=">" persistJMSRedelivered="true">
            <deadLetterStrategy>
              <individualDeadLetterStrategy queuePrefix="DLQ." useQueueForQueueMessages="true"/>
            </deadLetterStrategy>
          </policyEntry>
          <policyEntry topic=">">
            <deadLetterStrategy>
              <individualDeadLetterStrategy queuePrefix="DLQ." useQueueForTopicMessages="true"/>
            </deadLetterStrategy>
          </policyEntry>
        </policyEntries>
      </policyMap>
    </destinationPolicy>
    <persistenceAdapter>
      <kahaDB directory="\${activemq.data}/kahadb" journalMaxFileLength="32mb"/>
    </persistenceAdapter>
    <plugins>
      <!-- no login = anonymous (allowed); a wrong login/passcode is refused; no authorization rules -->
      <simpleAuthenticationPlugin anonymousAccessAllowed="true">
        <users>
          <authenticationUser username="admin" password="admin" groups="admins,users"/>
          <authenticationUser username="guest" password="guest" groups="users"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <sslContext>
      <sslContext keyStore="file:$TLS/server.p12" keyStoreType="PKCS12" keyStorePassword="password"
                  trustStore="file:$TLS/truststore.p12" trustStoreType="PKCS12" trustStorePassword="password"/>
    </sslContext>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage limit="128 mb"/></memoryUsage>
        <storeUsage><storeUsage limit="2 gb"/></storeUsage>
        <tempUsage><tempUsage limit="512 mb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:$AMQ_STOMP_PORT?transport.closeAsync=false"/>
      <transportConnector name="stomp+ssl" uri="stomp+ssl://127.0.0.1:$AMQ_STOMP_TLS_PORT?transport.closeAsync=false&amp;transport.wantClientAuth=true"/>
      <transportConnector name="stomp+nio" uri="stomp+nio://127.0.0.1:$AMQ_STOMP_NIO_PORT?transport.closeAsync=false"/>
      <!-- STOMP over WebSocket (any path; text messages only), plain and TLS (the sslContext
           above); Jetty's default limit of a text message is 64 KiB: 8 MiB here -->
      <transportConnector name="ws" uri="ws://127.0.0.1:$AMQ_WS_PORT?websocket.maxTextMessageSize=8388608"/>
      <transportConnector name="wss" uri="wss://127.0.0.1:$AMQ_WSS_PORT?websocket.maxTextMessageSize=8388608&amp;transport.wantClientAuth=true"/>
    </transportConnectors>
  </broker>
</beans>
EOF
    write_activemq_log4j "$AMQ_DIR/conf.new/log4j.properties"
    echo "$AMQ_JAVA_OPTS" > "$AMQ_DIR/conf.new/java-opts"
    apply_config activemq "$AMQ_DIR" || return 0
    check_ports_free activemq "$AMQ_STOMP_PORT" "$AMQ_STOMP_TLS_PORT" "$AMQ_STOMP_NIO_PORT" \
        "$AMQ_WS_PORT" "$AMQ_WSS_PORT"
    # activemq.jar puts \${activemq.base}/lib/*.jar on the class path: the ws transport's jars
    rm -rf "$AMQ_DIR/lib"
    mkdir -p "$AMQ_DIR/lib"
    ln -s "$jars"/*.jar "$AMQ_DIR/lib/"
    if [ "$AMQ_KEEP_STATE" = 1 ]; then
        log "activemq: keeping its stored messages (AMQ_KEEP_STATE=1)"
    else
        rm -rf "$AMQ_DIR/data"
    fi
    mkdir -p "$AMQ_DIR/data" "$AMQ_DIR/tmp"
    LAUNCHED_AT[activemq]=$(now)
    activemq_args "$AMQ_DIR"
    # shellcheck disable=SC2086
    launch activemq "$java" $AMQ_JAVA_OPTS -Djava.awt.headless=true "${ACTIVEMQ_ARGS[@]}"
}

# ---------------------------------------------------------------- RabbitMQ
start_rabbitmq() {
    local c=$RMQ_DIR/conf.new
    rm -rf "$c"
    mkdir -p "$c/conf.d"
    echo "# empty: keeps /etc/rabbitmq/rabbitmq-env.conf out" > "$c/rabbitmq-env.conf"
    echo '[rabbitmq_stomp,rabbitmq_web_stomp].' > "$c/enabled_plugins"
    # With load_definitions RabbitMQ creates no default user, so guest is defined here
    # (password "guest"; password_hash = base64(salt4 + sha256(salt4 + "guest"))).
    cat > "$c/definitions.json" <<'EOF'
{
  "users": [{"name": "guest", "password_hash": "DHRY7dcEyUWVWDmnSZZZrsVHGRPb5S8kuNSw5smndpmDqU12",
             "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"], "limits": {}}],
  "vhosts": [{"name": "/"}, {"name": "localhost"}, {"name": "127.0.0.1"}],
  "permissions": [
    {"user": "guest", "vhost": "/",         "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "guest", "vhost": "localhost", "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "guest", "vhost": "127.0.0.1", "configure": ".*", "write": ".*", "read": ".*"}],
  "topic_permissions": [], "parameters": [], "global_parameters": [], "policies": [],
  "queues": [], "exchanges": [], "bindings": []
}
EOF
    cat > "$c/rabbitmq.conf" <<EOF
# generated by scripts/brokers/start.sh: RabbitMQ test node, STOMP on loopback only
# test CA sha256 $(tls_fingerprint)
listeners.tcp = none
load_definitions = $RMQ_DIR/conf/definitions.json
stomp.listeners.tcp.1 = 127.0.0.1:$RABBIT_STOMP_PORT
stomp.listeners.ssl.1 = 127.0.0.1:$RABBIT_STOMP_TLS_PORT
ssl_options.cacertfile = $TLS/ca.crt
ssl_options.certfile = $TLS/server.crt
ssl_options.keyfile = $TLS/server.key
# ask for a client certificate and verify it against the test CA, but accept clients without one
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
# a CONNECT without login/passcode logs in as guest
stomp.default_user = guest
stomp.default_pass = guest
stomp.default_vhost = /
# STOMP over WebSocket (rabbitmq_web_stomp) on path /ws; binary frames out, so that any body survives
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = $RABBIT_WS_PORT
web_stomp.ssl.ip = 127.0.0.1
web_stomp.ssl.port = $RABBIT_WSS_PORT
web_stomp.ssl.cacertfile = $TLS/ca.crt
web_stomp.ssl.certfile = $TLS/server.crt
web_stomp.ssl.keyfile = $TLS/server.key
web_stomp.ws_frame = binary
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.25
log.console = false
log.file.level = info
EOF
    echo "nodename=$RABBIT_NODENAME dist_port=$RABBIT_DIST_PORT" > "$c/node"
    apply_config rabbitmq "$RMQ_DIR" || return 0
    # an Erlang VM left from an older run whose wrapper process was killed holds the ports
    local pid
    if pid=$(pid_of rabbitmq-beam); then
        log "stopping a leftover RabbitMQ Erlang VM (pid $pid)"
        signal_and_wait "rabbitmq (erlang vm)" "$pid" TERM
    fi
    check_ports_free rabbitmq "$RABBIT_STOMP_PORT" "$RABBIT_STOMP_TLS_PORT" "$RABBIT_DIST_PORT" \
        "$RABBIT_WS_PORT" "$RABBIT_WSS_PORT"
    mkdir -p "$RMQ_DIR/home" "$RMQ_DIR/log" "$RMQ_DIR/mnesia"
    if [ "$RABBIT_KEEP_STATE" = 1 ]; then
        log "rabbitmq: keeping its queues and messages (RABBIT_KEEP_STATE=1)"
    else
        rm -rf "${RMQ_DIR:?}/mnesia/"*
    fi
    # epmd: reuse a running one, else start our own on loopback (stop.sh stops only ours)
    if ! port_open 4369; then
        launch epmd epmd -address 127.0.0.1
        wait_port 4369 50 || true
    fi
    LAUNCHED_AT[rabbitmq]=$(now)
    rabbitmq_args "$RMQ_DIR" "$RABBIT_NODENAME" "$RUN/rabbitmq-beam.pid" "$RABBIT_DIST_PORT"
    launch rabbitmq "${RABBITMQ_ARGS[@]}"
}

# ---------------------------------------------------------------- Artemis
start_artemis() {
    local java home c=$ART_DIR/conf.new inst=$ART_DIR/instance t0
    java=${AMQ_JAVA:-$(find_java)}
    make_truststore "$java"
    home=$(artemis_home "$LOGS/artemis-fetch.log")
    rm -rf "$c"
    mkdir -p "$c"
    write_artemis_logins "$c"
    # Both acceptors speak STOMP only; /queue/x is the anycast (point-to-point) address x and
    # /topic/x the multicast (publish-subscribe) address x, as on ActiveMQ Classic.
    local stomp_params="protocols=STOMP;useEpoll=true;anycastPrefix=/queue/;multicastPrefix=/topic/"
    local tls_params="sslEnabled=true;keyStorePath=$TLS/server.p12;keyStoreType=PKCS12;keyStorePassword=password;trustStorePath=$TLS/truststore.p12;trustStoreType=PKCS12;trustStorePassword=password;wantClientAuth=true"
    cat > "$c/broker.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/brokers/start.sh: ActiveMQ Artemis $ARTEMIS_VERSION test broker, STOMP on loopback only.
     test CA sha256 $(tls_fingerprint); java $java; home $home -->
<configuration xmlns="urn:activemq" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
               xsi:schemaLocation="urn:activemq /schema/artemis-configuration.xsd">
  <core xmlns="urn:activemq:core">
    <name>stomp-test</name>
    <persistence-enabled>true</persistence-enabled>
    <!-- delivery counts are stored, also before each delivery (not only when a delivery is
         cancelled, which a restart may not get to): a message delivered before a restart
         always comes back marked redelivered -->
    <max-redelivery-records>1</max-redelivery-records>
    <persist-delivery-count-before-delivery>true</persist-delivery-count-before-delivery>
    <journal-type>NIO</journal-type>
    <journal-datasync>true</journal-datasync>
    <journal-min-files>2</journal-min-files>
    <journal-pool-files>10</journal-pool-files>
    <journal-file-size>10M</journal-file-size>
    <paging-directory>$ART_DIR/data/paging</paging-directory>
    <bindings-directory>$ART_DIR/data/bindings</bindings-directory>
    <journal-directory>$ART_DIR/data/journal</journal-directory>
    <large-messages-directory>$ART_DIR/data/large-messages</large-messages-directory>
    <disk-scan-period>5000</disk-scan-period>
    <max-disk-usage>98</max-disk-usage>
    <global-max-size>128M</global-max-size>
    <security-enabled>true</security-enabled>
    <acceptors>
      <acceptor name="stomp">tcp://127.0.0.1:$ARTEMIS_STOMP_PORT?$stomp_params</acceptor>
      <acceptor name="stomp+ssl">tcp://127.0.0.1:$ARTEMIS_STOMP_TLS_PORT?$stomp_params;$tls_params</acceptor>
    </acceptors>
    <security-settings>
      <security-setting match="#">
        <permission type="createNonDurableQueue" roles="amq"/>
        <permission type="deleteNonDurableQueue" roles="amq"/>
        <permission type="createDurableQueue" roles="amq"/>
        <permission type="deleteDurableQueue" roles="amq"/>
        <permission type="createAddress" roles="amq"/>
        <permission type="deleteAddress" roles="amq"/>
        <permission type="consume" roles="amq"/>
        <permission type="browse" roles="amq"/>
        <permission type="send" roles="amq"/>
        <permission type="manage" roles="amq"/>
      </security-setting>
    </security-settings>
    <address-settings>
      <!-- a message NACKed (or rolled back) max-delivery-attempts times goes to the anycast queue
           DLQ.<address> of address DLQ (created on demand, header _AMQ_ORIG_ADDRESS) -->
      <address-setting match="#">
        <dead-letter-address>DLQ</dead-letter-address>
        <auto-create-dead-letter-resources>true</auto-create-dead-letter-resources>
        <dead-letter-queue-prefix>DLQ.</dead-letter-queue-prefix>
        <max-delivery-attempts>ARTEMIS_MAX_DELIVERY_ATTEMPTS</max-delivery-attempts>
        <expiry-address>ExpiryQueue</expiry-address>
        <redelivery-delay>0</redelivery-delay>
        <auto-create-queues>true</auto-create-queues>
        <auto-create-addresses>true</auto-create-addresses>
        <auto-delete-queues>false</auto-delete-queues>
        <auto-delete-addresses>false</auto-delete-addresses>
        <address-full-policy>PAGE</address-full-policy>
        <max-size-bytes>-1</max-size-bytes>
        <page-size-bytes>10M</page-size-bytes>
      </address-setting>
    </address-settings>
    <addresses>
      <address name="DLQ"><anycast><queue name="DLQ"/></anycast></address>
      <address name="ExpiryQueue"><anycast><queue name="ExpiryQueue"/></anycast></address>
    </addresses>
  </core>
</configuration>
EOF
    sed -i "s/ARTEMIS_MAX_DELIVERY_ATTEMPTS/$ARTEMIS_MAX_DELIVERY_ATTEMPTS/" "$c/broker.xml"
    cat > "$c/log4j2.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d %-5level [%logger] %msg%n
EOF
    echo "$ART_JAVA_OPTS" > "$c/java-opts"
    apply_config artemis "$ART_DIR" || return 0
    check_ports_free artemis "$ARTEMIS_STOMP_PORT" "$ARTEMIS_STOMP_TLS_PORT"
    if [ "$ART_KEEP_STATE" = 1 ]; then
        log "artemis: keeping its stored messages (ARTEMIS_KEEP_STATE=1)"
    else
        rm -rf "$ART_DIR/data"
    fi
    # The instance (bin/artemis, etc/) is made afresh by "artemis create", then its etc/ gets the
    # files above; the journal lives in $ART_DIR/data, outside it.
    t0=$(now)
    rm -rf "$inst"
    if ! artemis_create "$java" "$home" 512M "$ART_DIR/data" "$inst" "$LOGS/artemis-create.log"; then
        tail -20 "$LOGS/artemis-create.log" >&2
        die "artemis: 'artemis create' failed (log: $LOGS/artemis-create.log)"
    fi
    cp "$ART_DIR/conf/broker.xml" "$ART_DIR/conf/login.config" "$ART_DIR/conf/log4j2.properties" \
        "$ART_DIR/conf/artemis-users.properties" "$ART_DIR/conf/artemis-roles.properties" "$inst/etc/"
    log "artemis: instance created in $inst ($(since "$t0")s)"
    mkdir -p "$ART_DIR/data" "$ART_DIR/tmp"
    LAUNCHED_AT[artemis]=$(now)
    launch artemis env JAVACMD="$java" \
        JAVA_ARGS="$ART_JAVA_OPTS -Djava.io.tmpdir=$ART_DIR/tmp $ARTEMIS_JVM_FLAGS" \
        "$inst/bin/artemis" run
}

# ---------------------------------------------------------------- Apollo
# apollo_home: print $BROKERS_CACHE/apollo-1.7.1, holding lib/ with Apollo's module jars and their
# dependencies from Maven Central (its distribution archive is not served there), plus the JAXB
# 2.3 jars that Java 11+ no longer has and a log4j binding. Fetched once with Maven, then kept.
apollo_home() {
    local home=$BROKERS_CACHE/apollo-$APOLLO_VERSION t0 dep deps=""
    if [ -f "$home/.assembled" ]; then echo "$home"; return 0; fi
    command -v mvn >/dev/null 2>&1 || die "apollo: Maven (mvn) is needed to fetch Apollo $APOLLO_VERSION"
    t0=$(now)
    rm -rf "$home" "$home.tmp"
    mkdir -p "$home.tmp/home"
    for dep in org.apache.activemq:apollo-cli:$APOLLO_VERSION org.apache.activemq:apollo-stomp:$APOLLO_VERSION \
            org.apache.activemq:apollo-leveldb:$APOLLO_VERSION javax.xml.bind:jaxb-api:2.3.1 \
            org.glassfish.jaxb:jaxb-runtime:2.3.9 javax.activation:activation:1.1.1 \
            org.slf4j:slf4j-log4j12:1.6.6; do
        IFS=: read -r g a v <<< "$dep"
        deps="$deps<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
    done
    cat > "$home.tmp/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <!-- generated by scripts/brokers/start.sh: the class path of Apache Apollo $APOLLO_VERSION on Java 17 -->
  <groupId>local.stomp-brokers</groupId><artifactId>apollo-runtime</artifactId><version>1</version>
  <packaging>pom</packaging><dependencies>$deps</dependencies></project>
EOF
    log "apollo: fetching Apollo $APOLLO_VERSION's jars with Maven" >&2
    : > "$LOGS/apollo-fetch.log"
    mvn_fetch "$LOGS/apollo-fetch.log" -f "$home.tmp/pom.xml" dependency:copy-dependencies \
        "-DoutputDirectory=$home.tmp/lib" ||
        die "apollo: mvn dependency:copy-dependencies failed (log: $LOGS/apollo-fetch.log)"
    touch "$home.tmp/.assembled"
    mv "$home.tmp" "$home"
    log "apollo: $APOLLO_VERSION assembled in $home in $(since "$t0")s" >&2
    echo "$home"
}

# Apollo's key store: the server key and chain, and the test CA as a trusted entry (to verify
# client certificates); one PKCS12 file, written by keytool.
make_apollo_keystore() {  # JAVA
    local ks=$TLS/apollo.p12 keytool
    [ -s "$ks" ] && [ "$ks" -nt "$TLS/ca.crt" ] && return 0
    keytool=$(dirname "$(readlink -f "$1")")/keytool
    [ -x "$keytool" ] || keytool=$(command -v keytool) || die "no keytool next to $1"
    rm -f "$ks"
    {
        "$keytool" -importkeystore -noprompt -srckeystore "$TLS/server.p12" -srcstoretype PKCS12 \
            -srcstorepass password -destkeystore "$ks" -deststoretype PKCS12 -deststorepass password &&
        "$keytool" -importcert -noprompt -alias stomp-test-ca -file "$TLS/ca.crt" -storetype PKCS12 \
            -keystore "$ks" -storepass password
    } >> "$LOGS/tls.log" 2>&1 || { tail -5 "$LOGS/tls.log" >&2; die "keytool failed (log: $LOGS/tls.log)"; }
}

start_apollo() {
    local java home c=$APL_DIR/conf.new inst=$APL_DIR/instance t0
    java=${AMQ_JAVA:-$(find_java)}
    make_apollo_keystore "$java"
    home=$(apollo_home)
    rm -rf "$c"
    mkdir -p "$c"
    printf 'admin=admin\nguest=guest\n' > "$c/users.properties"
    printf 'admins=admin\nusers=admin|guest\n' > "$c/groups.properties"
    # no login = guest; a wrong passcode is refused
    cat > "$c/login.config" <<'EOF'
apollo {
  org.apache.activemq.apollo.broker.security.FileUserLoginModule optional file="users.properties";
  org.apache.activemq.apollo.broker.security.FileGroupLoginModule optional
    match="org.apache.activemq.jaas.UserPrincipal" file="groups.properties";
  org.apache.activemq.apollo.broker.security.GuestLoginModule optional user="guest" group="users";
};
EOF
    cat > "$c/apollo.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/brokers/start.sh: Apache Apollo $APOLLO_VERSION test broker, STOMP on loopback only.
     test CA sha256 $(tls_fingerprint); java $java; home $home -->
<broker xmlns="http://activemq.apache.org/schema/activemq/apollo">
  <log_category console="console" security="security" connection="connection" audit="audit"/>
  <authentication domain="apollo"/>
  <access_rule allow="admins" action="*"/>
  <access_rule allow="*" action="connect" kind="connector"/>
  <virtual_host id="stomp-test">
    <host_name>localhost</host_name>
    <host_name>127.0.0.1</host_name>
    <host_name>stomp-test</host_name>
    <access_rule allow="users" action="connect create destroy send receive consume"/>
    <leveldb_store directory="$APL_DIR/data"/>
  </virtual_host>
  <connector id="tcp" bind="tcp://127.0.0.1:$APOLLO_STOMP_PORT" connection_limit="2000" protocol="stomp"/>
  <connector id="tls" bind="tls://127.0.0.1:$APOLLO_STOMP_TLS_PORT?client_auth=want" connection_limit="2000" protocol="stomp"/>
  <key_storage file="$TLS/apollo.p12" store_type="PKCS12" password="password" key_password="password"/>
</broker>
EOF
    cat > "$c/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %-5p | %m%n
EOF
    echo "$APL_JAVA_OPTS" > "$c/java-opts"
    apply_config apollo "$APL_DIR" || return 0
    check_ports_free apollo "$APOLLO_STOMP_PORT" "$APOLLO_STOMP_TLS_PORT"
    if [ "$APL_KEEP_STATE" = 1 ]; then
        log "apollo: keeping its stored messages (APOLLO_KEEP_STATE=1)"
    else
        rm -rf "$APL_DIR/data"
    fi
    t0=$(now)
    rm -rf "$inst"
    if ! "$java" -cp "$home/lib/*" -Dapollo.home="$home/home" org.apache.activemq.apollo.cli.Apollo \
            create --force "$inst" > "$LOGS/apollo-create.log" 2>&1 < /dev/null; then
        tail -20 "$LOGS/apollo-create.log" >&2
        die "apollo: 'apollo create' failed (log: $LOGS/apollo-create.log)"
    fi
    cp "$APL_DIR/conf/apollo.xml" "$APL_DIR/conf/login.config" "$APL_DIR/conf/log4j.properties" \
        "$APL_DIR/conf/users.properties" "$APL_DIR/conf/groups.properties" "$inst/etc/"
    log "apollo: instance created in $inst ($(since "$t0")s)"
    mkdir -p "$APL_DIR/data" "$APL_DIR/tmp"
    LAUNCHED_AT[apollo]=$(now)
    # shellcheck disable=SC2086
    launch apollo "$java" $APL_JAVA_OPTS -Djava.io.tmpdir="$APL_DIR/tmp" \
        -Dapollo.home="$home/home" -Dapollo.base="$inst" \
        -Djava.security.auth.login.config="$inst/etc/login.config" \
        -cp "$home/lib/*" org.apache.activemq.apollo.cli.Apollo run
}

# ---------------------------------------------------------------- readiness
FAILED=""
ping_one() {  # NAME LABEL PORT VHOST LOGIN PASSCODE [stomp_ping.py options...]
    local name=$1 label="$1 :$3 $2" port=$3 vhost=$4 login=$5 pass=$6 out
    shift 6
    if out=$("$PYTHON" "$SCRIPTS_DIR/stomp_ping.py" --label "$label" --port "$port" --vhost "$vhost" \
            --login "$login" --passcode "$pass" --wait "$START_TIMEOUT" "$@" 2>&1); then
        if [ -n "${LAUNCHED_AT[$name]-}" ]; then
            log "$out, $(since "${LAUNCHED_AT[$name]}")s after launch"
        else
            log "$out"
        fi
        return 0
    fi
    log "$out"
    echo "----- tail of $LOGS/$name.log" >&2
    tail -25 "$LOGS/$name.log" >&2 || true
    FAILED="$FAILED $name"
    return 1
}

ws_ping() {  # NAME URL: wait until the WebSocket upgrade of URL answers 101 with a STOMP subprotocol
    local name=$1 url=$2 out
    if out=$("$PYTHON" - "$url" "$TLS/ca.crt" "$START_TIMEOUT" <<'PY' 2>&1
import socket, ssl, sys, time, urllib.parse
url, ca, wait = sys.argv[1], sys.argv[2], float(sys.argv[3])
u = urllib.parse.urlsplit(url)
deadline = time.monotonic() + wait
while True:
    try:
        sock = socket.create_connection((u.hostname, u.port), timeout=5)
        if u.scheme == "wss":
            sock = ssl.create_default_context(cafile=ca).wrap_socket(sock, server_hostname="localhost")
        sock.sendall((f"GET {u.path or '/'} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Protocol: v12.stomp\r\n\r\n").encode())
        head = sock.recv(4096).decode("latin-1")
        sock.close()
        if head.startswith("HTTP/1.1 101") and "v12.stomp" in head:
            print(f"{url}: WebSocket upgrade accepted (v12.stomp)")
            break
        raise OSError(head.split("\r\n")[0] or "no answer")
    except OSError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"{url}: no WebSocket upgrade within {wait:g} s: {exc}")
        time.sleep(0.5)
PY
    ); then
        log "$name $out"
        return 0
    fi
    log "$name $out"
    FAILED="$FAILED $name"
    return 1
}

check_broker() {  # NAME PLAIN_PORT TLS_PORT VHOST LOGIN PASSCODE: plain, TLS, TLS with client cert
    local name=$1 plain=$2 tls=$3 vhost=$4 login=$5 pass=$6
    local ca=(--tls --ca "$TLS/ca.crt" --server-name localhost)
    ping_one "$name" stomp "$plain" "$vhost" "$login" "$pass" || return 1
    ping_one "$name" "tls" "$tls" "$vhost" "$login" "$pass" "${ca[@]}" || return 1
    ping_one "$name" "tls+client-cert" "$tls" "$vhost" "$login" "$pass" "${ca[@]}" \
        --cert "$TLS/client.crt" --key "$TLS/client.key"
}

# ---------------------------------------------------------------- main
install_missing
make_certs
T_LAUNCH=$(now)
for b in $KNOWN_BROKERS; do
    if wants "$b"; then "start_$b"; fi
done

if wants activemq && check_broker activemq "$AMQ_STOMP_PORT" "$AMQ_STOMP_TLS_PORT" localhost admin admin \
        && ping_one activemq stomp+nio "$AMQ_STOMP_NIO_PORT" localhost admin admin \
        && ws_ping activemq "ws://127.0.0.1:$AMQ_WS_PORT/" && ws_ping activemq "wss://127.0.0.1:$AMQ_WSS_PORT/"; then
    {
        kv STOMP_ACTIVEMQ_HOST 127.0.0.1
        kv STOMP_ACTIVEMQ_PORT "$AMQ_STOMP_PORT"
        kv STOMP_ACTIVEMQ_TLS_PORT "$AMQ_STOMP_TLS_PORT"
        kv STOMP_ACTIVEMQ_NIO_PORT "$AMQ_STOMP_NIO_PORT"
        kv STOMP_ACTIVEMQ_LOGIN admin
        kv STOMP_ACTIVEMQ_PASSCODE admin
        kv STOMP_ACTIVEMQ_VHOST localhost
        kv STOMP_ACTIVEMQ_DLQ_PREFIX DLQ.
        kv STOMP_ACTIVEMQ_WS_URL "ws://127.0.0.1:$AMQ_WS_PORT/"
        kv STOMP_ACTIVEMQ_WSS_URL "wss://127.0.0.1:$AMQ_WSS_PORT/"
    } > "$RUN/activemq.env"
fi
if wants rabbitmq && check_broker rabbitmq "$RABBIT_STOMP_PORT" "$RABBIT_STOMP_TLS_PORT" / guest guest \
        && ws_ping rabbitmq "ws://127.0.0.1:$RABBIT_WS_PORT/ws" \
        && ws_ping rabbitmq "wss://127.0.0.1:$RABBIT_WSS_PORT/ws"; then
    {
        kv STOMP_RABBITMQ_HOST 127.0.0.1
        kv STOMP_RABBITMQ_PORT "$RABBIT_STOMP_PORT"
        kv STOMP_RABBITMQ_TLS_PORT "$RABBIT_STOMP_TLS_PORT"
        kv STOMP_RABBITMQ_LOGIN guest
        kv STOMP_RABBITMQ_PASSCODE guest
        kv STOMP_RABBITMQ_VHOST /
        kv STOMP_RABBITMQ_WS_URL "ws://127.0.0.1:$RABBIT_WS_PORT/ws"
        kv STOMP_RABBITMQ_WSS_URL "wss://127.0.0.1:$RABBIT_WSS_PORT/ws"
    } > "$RUN/rabbitmq.env"
fi
if wants artemis && check_broker artemis "$ARTEMIS_STOMP_PORT" "$ARTEMIS_STOMP_TLS_PORT" localhost admin admin; then
    {
        kv STOMP_ARTEMIS_HOST 127.0.0.1
        kv STOMP_ARTEMIS_PORT "$ARTEMIS_STOMP_PORT"
        kv STOMP_ARTEMIS_TLS_PORT "$ARTEMIS_STOMP_TLS_PORT"
        kv STOMP_ARTEMIS_LOGIN admin
        kv STOMP_ARTEMIS_PASSCODE admin
        kv STOMP_ARTEMIS_VHOST localhost
        kv STOMP_ARTEMIS_DLQ_PREFIX DLQ.
        kv STOMP_ARTEMIS_VERSION "$ARTEMIS_VERSION"
    } > "$RUN/artemis.env"
fi
if wants apollo && check_broker apollo "$APOLLO_STOMP_PORT" "$APOLLO_STOMP_TLS_PORT" localhost admin admin; then
    {
        kv STOMP_APOLLO_HOST 127.0.0.1
        kv STOMP_APOLLO_PORT "$APOLLO_STOMP_PORT"
        kv STOMP_APOLLO_TLS_PORT "$APOLLO_STOMP_TLS_PORT"
        kv STOMP_APOLLO_LOGIN admin
        kv STOMP_APOLLO_PASSCODE admin
        kv STOMP_APOLLO_VHOST localhost
        kv STOMP_APOLLO_VERSION "$APOLLO_VERSION"
    } > "$RUN/apollo.env"
fi
write_env
[ -z "$FAILED" ] || die "not ready:$FAILED (logs in $LOGS)"

log "ready in $(since "$T_START")s ($(since "$T_LAUNCH")s of it starting and checking brokers)"
log "environment: $ENV_FILE"
printf '  %-9s %-17s %s\n' broker address notes
if wants activemq; then
    printf '  %-9s %-17s %s\n' activemq "127.0.0.1:$AMQ_STOMP_PORT" "stomp (admin/admin, guest/guest or none; host localhost)" \
        activemq "127.0.0.1:$AMQ_STOMP_TLS_PORT" "stomp+ssl (CA $TLS/ca.crt)" \
        activemq "127.0.0.1:$AMQ_STOMP_NIO_PORT" "stomp+nio" \
        activemq "127.0.0.1:$AMQ_WS_PORT" "ws://127.0.0.1:$AMQ_WS_PORT/ (text messages only)" \
        activemq "127.0.0.1:$AMQ_WSS_PORT" "wss://127.0.0.1:$AMQ_WSS_PORT/"
fi
if wants rabbitmq; then
    printf '  %-9s %-17s %s\n' rabbitmq "127.0.0.1:$RABBIT_STOMP_PORT" "stomp (guest/guest; vhosts /, localhost, 127.0.0.1)" \
        rabbitmq "127.0.0.1:$RABBIT_STOMP_TLS_PORT" "stomp over TLS (CA $TLS/ca.crt)" \
        rabbitmq "127.0.0.1:$RABBIT_WS_PORT" "ws://127.0.0.1:$RABBIT_WS_PORT/ws (web-stomp)" \
        rabbitmq "127.0.0.1:$RABBIT_WSS_PORT" "wss://127.0.0.1:$RABBIT_WSS_PORT/ws"
fi
if wants apollo; then
    printf '  %-9s %-17s %s\n' apollo "127.0.0.1:$APOLLO_STOMP_PORT" "stomp (admin/admin, guest/guest or none; host localhost)" \
        apollo "127.0.0.1:$APOLLO_STOMP_TLS_PORT" "stomp over TLS (CA $TLS/ca.crt)"
fi
if wants artemis; then
    printf '  %-9s %-17s %s\n' artemis "127.0.0.1:$ARTEMIS_STOMP_PORT" "stomp (admin/admin, guest/guest or none; /queue/ anycast, /topic/ multicast)" \
        artemis "127.0.0.1:$ARTEMIS_STOMP_TLS_PORT" "stomp+ssl (CA $TLS/ca.crt)"
fi
