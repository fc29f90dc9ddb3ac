#!/usr/bin/env bash
# scripts/brokers/ha.sh - highly available STOMP broker set-ups on loopback, for tests/ha: the
# brokers' own failover mechanisms, on ports and data folders of their own (the single brokers
# of start.sh keep running beside them).
#
#   ha.sh start [SETUP...]     start the set-ups (default: activemq rabbitmq artemis); idempotent:
#                              a set-up already running is left as it is (stop it first to
#                              apply changed settings or to begin with empty stores)
#   ha.sh stop [SETUP...]      stop them (SIGTERM, then SIGKILL after STOP_TIMEOUT)
#   ha.sh kill NODE            SIGKILL one node (a crash); its stored state stays
#   ha.sh pid NODE             print the pid of a running node (to signal it yourself)
#   ha.sh leader QUEUE         RabbitMQ: print the node whose member leads quorum queue QUEUE
#   ha.sh start-node NODE      start one node again; returns once it serves STOMP or, for a
#                              master/slave or live/backup pair, once it waits as the standby
#   ha.sh status               one line per node: pid or "down", serving or not
#
# Set-ups and nodes (STOMP on 127.0.0.1, plain TCP only):
#   activemq  ActiveMQ Classic 5.17 shared-store master/slave: nodes amq1 :62613 and amq2 :62614
#             on one KahaDB directory; the node holding its file lock serves, the other polls the
#             lock every second and opens its connectors once it has it. admin/admin, host localhost
#   rabbitmq  RabbitMQ 3.10 cluster of three nodes stompha1..3@localhost (rmq1 :62623, rmq2 :62624,
#             rmq3 :62625; distribution ports 25681-25683; no AMQP listener, no management);
#             guest/guest, vhost /. Quorum queues: SUBSCRIBE and SEND with x-queue-type:quorum;
#             a policy expires queues named ha-* after 10 minutes unused (the tests' queues)
#   artemis   ActiveMQ Artemis (the version start.sh uses, from its cache) shared-store primary
#             art1 :62653 and backup art2 :62654 (cluster connectors :62655, :62656) on one journal;
#             no failback: a restarted node waits as the standby. admin/admin, host localhost
#
# Environment (all optional):
#   HA_DIR=${TMPDIR:-/tmp}/stomp-ha   configuration, data, logs (logs/NODE.log), pid files, ha.env
#   BROKERS_CACHE, ARTEMIS_VERSION, MAVEN_REPO_LOCAL   as for start.sh (same cache, same fetch)
#   HA_KEEP_STATE=0       1: a set-up that is (re)started keeps its stored messages
#   START_TIMEOUT=120     seconds to wait, per set-up, for every node
#   STOP_TIMEOUT=30       seconds between SIGTERM and SIGKILL
#   HA_JAVA_OPTS="-Xms64m -Xmx384m -XX:+UseSerialGC"
#
# Writes $HA_DIR/ha.env (shell NAME=value lines; load with set -a; . "$file"; set +a):
#   STOMP_HA_DIR, STOMP_HA_SCRIPT, STOMP_HA_SETUPS (the set-ups that are up), and per set-up S
#   (ACTIVEMQ, RABBITMQ, ARTEMIS): STOMP_HA_<S>_URI (failover:(...) over every node),
#   STOMP_HA_<S>_NODES, STOMP_HA_<S>_LOGIN, _PASSCODE, _VHOST, STOMP_HA_<S>_SUBSCRIBE_HEADERS and
#   _SEND_HEADERS (what the set-up needs on those frames, "name:value" joined by commas);
#   STOMP_HA_RABBITMQ_LEADER (a command: append a queue name to get its leader's node); per
#   node N (AMQ1, RMQ2, ...): STOMP_HA_<N>_PORT, _PIDFILE, _LOG, _KILL and _START (commands).
set -euo pipefail

LOG_TAG=ha.sh
BROKERS=${BROKERS:-activemq}  # _lib.sh checks it; ha.sh does not use it
# shellcheck source-path=SCRIPTDIR source=_lib.sh
. "$(dirname "$0")/_lib.sh"

HA_DIR=${HA_DIR:-${TMPDIR:-/tmp}/stomp-ha}
HA_KEEP_STATE=${HA_KEEP_STATE:-0}
START_TIMEOUT=${START_TIMEOUT:-120}
HA_JAVA_OPTS=${HA_JAVA_OPTS:-"-Xms64m -Xmx384m -XX:+UseSerialGC"}
HA_RUN=$HA_DIR/run
HA_LOGS=$HA_DIR/logs
HA_ENV=$HA_DIR/ha.env
SETUPS="activemq rabbitmq artemis"
SCRIPT=$SCRIPTS_DIR/ha.sh

# node -> set-up, STOMP port
declare -A SETUP_OF=([amq1]=activemq [amq2]=activemq [rmq1]=rabbitmq [rmq2]=rabbitmq
    [rmq3]=rabbitmq [art1]=artemis [art2]=artemis)
declare -A PORT_OF=([amq1]=62613 [amq2]=62614 [rmq1]=62623 [rmq2]=62624 [rmq3]=62625
    [art1]=62653 [art2]=62654)
declare -A NODES_OF=([activemq]="amq1 amq2" [rabbitmq]="rmq1 rmq2 rmq3" [artemis]="art1 art2")
declare -A RMQ_DIST=([rmq1]=25681 [rmq2]=25682 [rmq3]=25683)
declare -A ART_CLUSTER=([art1]=62655 [art2]=62656)
RMQ_COOKIE=stomp-ha-cluster-cookie

node_dir() { echo "$HA_DIR/${SETUP_OF[$1]}/$1"; }
rmq_name() { echo "stompha${1#rmq}@localhost"; }

# ha_markers NODE: strings one of which the command line of the node's process contains
# (pid-reuse guard): its launcher script until it execs, then the broker's own command line
# (RabbitMQ: bash -> env -> rabbitmq-server (sh) -> erl -> beam.smp -home DIR; Artemis:
# bin/artemis (sh) -> java)
ha_markers() {
    echo "$HA_RUN/$1.sh"
    case $1 in
        rmq*) printf '%s\n' "-home $(node_dir "$1")/home" "RABBITMQ_NODENAME=$(rmq_name "$1")" \
            /usr/lib/rabbitmq/bin/rabbitmq-server ;;
        art*) printf '%s\n' "-Dstomp.ha.node=$HA_DIR:$1" "$(node_dir "$1")/instance/bin/artemis" ;;
        *) echo "-Dstomp.ha.node=$HA_DIR:$1" ;;
    esac
}

ha_pid() { live_pid "$HA_RUN/$1.pid" ha_markers "$1"; }  # NODE: print its pid if it runs

# launch NODE: run $HA_RUN/NODE.sh detached (own session, no stdin, no lock fd)
launch_node() { detach "$1" "$HA_RUN/$1.pid" "$HA_LOGS/$1.log" bash "$HA_RUN/$1.sh"; }

# write_node_script NODE CMD...: $HA_RUN/NODE.sh records its pid and execs CMD
write_node_script() {
    local node=$1 arg; shift
    {
        echo "#!/usr/bin/env bash"
        echo "# generated by scripts/brokers/ha.sh: node $node"
        echo "echo \$\$ > $(shq "$HA_RUN/$node.pid")"
        printf 'exec'
        for arg in "$@"; do printf ' %s' "$(shq "$arg")"; done
        printf '\n'
    } > "$HA_RUN/$node.sh"
}

stop_node() {  # NODE SIGNAL
    local pid
    if pid=$(ha_pid "$1"); then
        if [ "$2" = KILL ]; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_gone "$pid" 10 || log "$1 (pid $pid) survived SIGKILL"
            log "$1 killed (pid $pid)"
        else
            signal_and_wait "$1" "$pid" "$2"
        fi
    else
        log "$1: not running"
    fi
    rm -f "$HA_RUN/$1.pid"
}

stomp_answers() {  # PORT VHOST LOGIN PASSCODE WAIT
    "$PYTHON" "$SCRIPTS_DIR/stomp_ping.py" --label "ha :$1" --port "$1" --vhost "$2" \
        --login "$3" --passcode "$4" --wait "$5" --timeout 5
}

# log_says NODE OFFSET PATTERN: the node's log, from byte OFFSET on, has a line matching PATTERN
log_says() { tail -c "+$(($2 + 1))" "$HA_LOGS/$1.log" 2>/dev/null | grep -Eq "$3"; }

# wait_node NODE OFFSET SECONDS: until the node serves STOMP, or waits as the standby
wait_node() {
    local node=$1 offset=$2 deadline standby pid
    deadline=$(($(date +%s) + $3))
    case $node in
        amq*) standby='is now in slave mode|waiting a lock to be acquired' ;;
        art*) standby='AMQ221109|AMQ221034' ;;  # backup started; restarted primary waits for the lock
        *) standby='' ;;
    esac
    while [ "$(date +%s)" -lt "$deadline" ]; do
        # the process just launched (its command line passes through wrapper scripts that
        # ha_pid does not all recognise, so only its death counts here)
        pid=$(cat "$HA_RUN/$node.pid" 2>/dev/null) || pid=""
        if [ -z "$pid" ] || gone "$pid"; then
            tail -20 "$HA_LOGS/$node.log" >&2
            die "$node exited (log: $HA_LOGS/$node.log)"
        fi
        if port_open "${PORT_OF[$node]}"; then
            if stomp_answers "${PORT_OF[$node]}" "$(vhost_of "$node")" "$(login_of "$node")" \
                    "$(login_of "$node")" 10 > /dev/null 2>&1; then
                log "$node serves STOMP on :${PORT_OF[$node]}"
                return 0
            fi
        elif [ -n "$standby" ] && log_says "$node" "$offset" "$standby"; then
            log "$node waits as the standby"
            return 0
        fi
        sleep 0.3
    done
    tail -20 "$HA_LOGS/$node.log" >&2
    die "$node: neither serving nor standing by after $3s (log: $HA_LOGS/$node.log)"
}

vhost_of() { case $1 in rmq*) echo / ;; *) echo localhost ;; esac; }
login_of() { case $1 in rmq*) echo guest ;; *) echo admin ;; esac; }

log_size() { stat -c %s "$HA_LOGS/$1.log" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- ActiveMQ Classic master/slave
configure_activemq() {
    local java node dir shared=$HA_DIR/activemq/shared
    java=$(find_java)
    for node in ${NODES_OF[activemq]}; do
        dir=$(node_dir "$node")
        mkdir -p "$dir/conf" "$dir/data" "$dir/tmp"
        cat > "$dir/conf/activemq.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/brokers/ha.sh: ActiveMQ Classic shared-store master/slave node $node -->
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
       http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <bean class="org.springframework.beans.factory.config.PropertyPlaceholderConfigurer"/>
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="stomp-ha" useJmx="false"
          persistent="true" schedulerSupport="false" dataDirectory="$dir/data">
    <destinationPolicy>
      <policyMap>
        <policyEntries>
          <policyEntry queue=">" persistJMSRedelivered="true"/>
        </policyEntries>
      </policyMap>
    </destinationPolicy>
    <!-- one KahaDB for both nodes: the node holding its lock file serves; the other polls the
         lock every second and starts its connectors once it holds it -->
    <persistenceAdapter>
      <kahaDB directory="$shared/kahadb" journalMaxFileLength="32mb">
        <locker><shared-file-locker lockAcquireSleepInterval="1000"/></locker>
      </kahaDB>
    </persistenceAdapter>
    <plugins>
      <simpleAuthenticationPlugin anonymousAccessAllowed="true">
        <users>
          <authenticationUser username="admin" password="admin" groups="admins,users"/>
          <authenticationUser username="guest" password="guest" groups="users"/>
        </users>
      </simpleAuthenticationPlugin>
    </plugins>
    <systemUsage>
      <systemUsage>
        <memoryUsage><memoryUsage limit="128 mb"/></memoryUsage>
        <storeUsage><storeUsage limit="2 gb"/></storeUsage>
        <tempUsage><tempUsage limit="512 mb"/></tempUsage>
      </systemUsage>
    </systemUsage>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:${PORT_OF[$node]}?transport.closeAsync=false"/>
    </transportConnectors>
  </broker>
</beans>
EOF
        write_activemq_log4j "$dir/conf/log4j.properties"
        activemq_args "$dir"
        # shellcheck disable=SC2086
        write_node_script "$node" "$java" $HA_JAVA_OPTS -Djava.awt.headless=true \
            "-Dstomp.ha.node=$HA_DIR:$node" "${ACTIVEMQ_ARGS[@]}"
    done
    [ "$HA_KEEP_STATE" = 1 ] || rm -rf "$shared"
    mkdir -p "$shared"
}

# ---------------------------------------------------------------- RabbitMQ cluster
configure_rabbitmq() {
    local node dir
    for node in ${NODES_OF[rabbitmq]}; do
        dir=$(node_dir "$node")
        if [ "$HA_KEEP_STATE" != 1 ]; then rm -rf "$dir/mnesia" "$dir/log"; fi
        mkdir -p "$dir/conf/conf.d" "$dir/home" "$dir/mnesia" "$dir/log"
        (umask 077; printf '%s' "$RMQ_COOKIE" > "$dir/home/.erlang.cookie.new")
        mv -f "$dir/home/.erlang.cookie.new" "$dir/home/.erlang.cookie"
        echo "# empty: keeps /etc/rabbitmq/rabbitmq-env.conf out" > "$dir/conf/rabbitmq-env.conf"
        echo '[rabbitmq_stomp].' > "$dir/conf/enabled_plugins"
        cat > "$dir/conf/definitions.json" <<'EOF'
{
  "users": [{"name": "guest", "password_hash": "DHRY7dcEyUWVWDmnSZZZrsVHGRPb5S8kuNSw5smndpmDqU12",
             "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"], "limits": {}}],
  "vhosts": [{"name": "/"}],
  "permissions": [{"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}],
  "topic_permissions": [], "parameters": [], "global_parameters": [],
  "policies": [{"vhost": "/", "name": "ha-test-queues-expire", "pattern": "^ha-", "apply-to": "queues",
                "priority": 0, "definition": {"expires": 600000}}],
  "queues": [], "exchanges": [], "bindings": []
}
EOF
        cat > "$dir/conf/rabbitmq.conf" <<EOF
# generated by scripts/brokers/ha.sh: RabbitMQ cluster node $(rmq_name "$node"), STOMP on loopback only
listeners.tcp = none
load_definitions = $dir/conf/definitions.json
stomp.listeners.tcp.1 = 127.0.0.1:${PORT_OF[$node]}
stomp.default_user = guest
stomp.default_pass = guest
stomp.default_vhost = /
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = 0.1
log.console = false
log.file.level = info
EOF
        rabbitmq_args "$dir" "$(rmq_name "$node")" "$dir/beam.pid" "${RMQ_DIST[$node]}"
        write_node_script "$node" "${RABBITMQ_ARGS[@]}"
    done
}

rabbitmqctl_as() {  # NODE ARGS...: rabbitmqctl against that node, with the cluster's cookie
    local node=$1; shift
    HOME="$(node_dir "$node")/home" ERL_EPMD_ADDRESS=127.0.0.1 \
        timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl -q -n "$(rmq_name "$node")" "$@"
}

# form_cluster: rmq2 and rmq3 join rmq1 (once; a node that is already a member is left alone)
form_cluster() {
    local node status
    for node in rmq2 rmq3; do
        status=$(rabbitmqctl_as "$node" cluster_status --formatter json 2>&1) || true
        case $status in *"$(rmq_name rmq1)"*) continue ;; esac
        log "$node joins $(rmq_name rmq1)"
        {
            rabbitmqctl_as "$node" stop_app && rabbitmqctl_as "$node" reset &&
                rabbitmqctl_as "$node" join_cluster "$(rmq_name rmq1)" &&
                rabbitmqctl_as "$node" start_app
        } >> "$HA_LOGS/rabbitmq-cluster.log" 2>&1 ||
            { tail -20 "$HA_LOGS/rabbitmq-cluster.log" >&2; die "$node could not join the cluster"; }
    done
    stomp_answers "${PORT_OF[rmq2]}" / guest guest 60 > /dev/null
    stomp_answers "${PORT_OF[rmq3]}" / guest guest 60 > /dev/null
}

# ---------------------------------------------------------------- Artemis shared-store pair
configure_artemis() {
    local java home node dir other role shared=$HA_DIR/artemis/shared
    java=$(find_java)
    home=$(artemis_home "$HA_LOGS/artemis-fetch.log")  # start.sh's, from the same cache
    [ "$HA_KEEP_STATE" = 1 ] || rm -rf "$shared"
    mkdir -p "$shared"
    for node in ${NODES_OF[artemis]}; do
        dir=$(node_dir "$node")
        if [ "$node" = art1 ]; then other=art2; else other=art1; fi
        if [ "$node" = art1 ]; then
            role="<primary><failover-on-shutdown>true</failover-on-shutdown></primary>"
        else
            role="<backup><allow-failback>false</allow-failback><failover-on-shutdown>true</failover-on-shutdown></backup>"
        fi
        if [ ! -x "$dir/instance/bin/artemis" ] || [ "$(cat "$dir/instance/.home" 2>/dev/null)" != "$home" ]; then
            rm -rf "$dir/instance"
            mkdir -p "$dir"
            artemis_create "$java" "$home" 384M "$shared" "$dir/instance" "$HA_LOGS/$node-create.log" ||
                { tail -20 "$HA_LOGS/$node-create.log" >&2; die "artemis create failed for $node"; }
            echo "$home" > "$dir/instance/.home"
        fi
        mkdir -p "$dir/tmp"
        write_artemis_logins "$dir/instance/etc"
        cat > "$dir/instance/etc/log4j2.properties" <<'EOF'
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d %-5level [%logger] %msg%n
# the audit loggers write a line per message: off
logger.audit_base.name = org.apache.activemq.audit.base
logger.audit_base.level = OFF
logger.audit_resource.name = org.apache.activemq.audit.resource
logger.audit_resource.level = OFF
logger.audit_message.name = org.apache.activemq.audit.message
logger.audit_message.level = OFF
EOF
        cat > "$dir/instance/etc/broker.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/brokers/ha.sh: ActiveMQ Artemis $ARTEMIS_VERSION shared-store node $node -->
<configuration xmlns="urn:activemq" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
               xsi:schemaLocation="urn:activemq /schema/artemis-configuration.xsd">
  <core xmlns="urn:activemq:core">
    <name>$node</name>
    <persistence-enabled>true</persistence-enabled>
    <max-redelivery-records>1</max-redelivery-records>
    <persist-delivery-count-before-delivery>true</persist-delivery-count-before-delivery>
    <journal-type>NIO</journal-type>
    <journal-datasync>true</journal-datasync>
    <journal-min-files>2</journal-min-files>
    <journal-pool-files>10</journal-pool-files>
    <journal-file-size>10M</journal-file-size>
    <paging-directory>$shared/paging</paging-directory>
    <bindings-directory>$shared/bindings</bindings-directory>
    <journal-directory>$shared/journal</journal-directory>
    <large-messages-directory>$shared/large-messages</large-messages-directory>
    <node-manager-lock-directory>$shared</node-manager-lock-directory>
    <disk-scan-period>5000</disk-scan-period>
    <max-disk-usage>98</max-disk-usage>
    <global-max-size>128M</global-max-size>
    <security-enabled>true</security-enabled>
    <cluster-user>admin</cluster-user>
    <cluster-password>admin</cluster-password>
    <!-- one journal for both nodes: the node holding its lock is live; no failback, so a
         restarted node waits as the standby of the one that took over -->
    <ha-policy><shared-store>$role</shared-store></ha-policy>
    <connectors>
      <connector name="self">tcp://127.0.0.1:${ART_CLUSTER[$node]}</connector>
      <connector name="peer">tcp://127.0.0.1:${ART_CLUSTER[$other]}</connector>
    </connectors>
    <acceptors>
      <acceptor name="stomp">tcp://127.0.0.1:${PORT_OF[$node]}?protocols=STOMP;useEpoll=true;anycastPrefix=/queue/;multicastPrefix=/topic/</acceptor>
      <acceptor name="cluster">tcp://127.0.0.1:${ART_CLUSTER[$node]}?protocols=CORE</acceptor>
    </acceptors>
    <cluster-connections>
      <cluster-connection name="stomp-ha">
        <connector-ref>self</connector-ref>
        <message-load-balancing>OFF</message-load-balancing>
        <static-connectors><connector-ref>peer</connector-ref></static-connectors>
      </cluster-connection>
    </cluster-connections>
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
      <address-setting match="#">
        <dead-letter-address>DLQ</dead-letter-address>
        <max-delivery-attempts>-1</max-delivery-attempts>
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
  </core>
</configuration>
EOF
        write_node_script "$node" env JAVACMD="$java" \
            JAVA_ARGS="$HA_JAVA_OPTS -Dstomp.ha.node=$HA_DIR:$node -Djava.io.tmpdir=$dir/tmp $ARTEMIS_JVM_FLAGS" \
            "$dir/instance/bin/artemis" run
    done
}

# ---------------------------------------------------------------- set-ups
ha_lock() {
    mkdir -p "$HA_DIR" "$HA_RUN" "$HA_LOGS"
    lock_dir "$HA_DIR" 600 ha.sh
}

setup_up() {  # SETUP: every node runs
    local node
    for node in ${NODES_OF[$1]}; do ha_pid "$node" >/dev/null || return 1; done
}

setup_ports_free() {  # SETUP: the STOMP ports of its nodes that ha.sh does not run are free
    local node ports=()
    for node in ${NODES_OF[$1]}; do ha_pid "$node" >/dev/null || ports+=("${PORT_OF[$node]}"); done
    check_ports_free "$1" "${ports[@]}"
}

start_setup() {
    local setup=$1 node t0 serving=0 offsets=()
    t0=$(now)
    if setup_up "$setup"; then
        for node in ${NODES_OF[$setup]}; do
            if port_open "${PORT_OF[$node]}"; then serving=$((serving + 1)); fi
        done
        if [ "$serving" -gt 0 ]; then
            log "$setup already running ($serving node(s) serving)"
            write_setup_env "$setup"
            return 0
        fi
    fi
    for node in ${NODES_OF[$setup]}; do stop_node "$node" TERM > /dev/null; done
    setup_ports_free "$setup"
    "configure_$setup"
    if [ "$setup" = rabbitmq ] && ! port_open 4369; then
        setsid epmd -address 127.0.0.1 >> "$HA_LOGS/epmd.log" 2>&1 < /dev/null 9>&- &
        wait_port 4369 50 || true
    fi
    for node in ${NODES_OF[$setup]}; do
        offsets+=("$(log_size "$node")")
        launch_node "$node"
        # the first node of a pair takes the lock before the second is launched
        if [ "$setup" != rabbitmq ] && [ "$node" = "${NODES_OF[$setup]%% *}" ]; then
            wait_node "$node" "${offsets[0]}" "$START_TIMEOUT"
        fi
    done
    local i=0
    for node in ${NODES_OF[$setup]}; do
        if [ "$setup" = rabbitmq ] || [ "$i" -gt 0 ]; then
            wait_node "$node" "${offsets[$i]}" "$START_TIMEOUT"
        fi
        i=$((i + 1))
    done
    if [ "$setup" = rabbitmq ]; then form_cluster; fi
    write_setup_env "$setup"
    log "$setup up in $(since "$t0")s"
}

write_setup_env() {
    local setup=$1 S node N uri="" sub="" send=""
    S=$(echo "$setup" | tr a-z A-Z)
    for node in ${NODES_OF[$setup]}; do uri="$uri,tcp://127.0.0.1:${PORT_OF[$node]}"; done
    if [ "$setup" = rabbitmq ]; then sub="x-queue-type:quorum"; send="x-queue-type:quorum"; fi
    {
        kv "STOMP_HA_${S}_URI" "failover:(${uri#,})"
        kv "STOMP_HA_${S}_NODES" "${NODES_OF[$setup]}"
        kv "STOMP_HA_${S}_LOGIN" "$(login_of "${NODES_OF[$setup]%% *}")"
        kv "STOMP_HA_${S}_PASSCODE" "$(login_of "${NODES_OF[$setup]%% *}")"
        kv "STOMP_HA_${S}_VHOST" "$(vhost_of "${NODES_OF[$setup]%% *}")"
        kv "STOMP_HA_${S}_SUBSCRIBE_HEADERS" "$sub"
        kv "STOMP_HA_${S}_SEND_HEADERS" "$send"
        if [ "$setup" = rabbitmq ]; then
            kv STOMP_HA_RABBITMQ_LEADER "HA_DIR=$(shq "$HA_DIR") bash $(shq "$SCRIPT") leader"
        fi
        for node in ${NODES_OF[$setup]}; do
            N=$(echo "$node" | tr a-z A-Z)
            kv "STOMP_HA_${N}_PORT" "${PORT_OF[$node]}"
            kv "STOMP_HA_${N}_PIDFILE" "$HA_RUN/$node.pid"
            kv "STOMP_HA_${N}_LOG" "$HA_LOGS/$node.log"
            kv "STOMP_HA_${N}_KILL" "HA_DIR=$(shq "$HA_DIR") bash $(shq "$SCRIPT") kill $node"
            kv "STOMP_HA_${N}_START" "HA_DIR=$(shq "$HA_DIR") bash $(shq "$SCRIPT") start-node $node"
        done
    } > "$HA_RUN/$setup.env"
}

write_ha_env() {
    local s up=()
    for s in $SETUPS; do
        if setup_up "$s" && [ -s "$HA_RUN/$s.env" ]; then up+=("$s"); fi
    done
    {
        echo "# Written by scripts/brokers/ha.sh: the highly available set-ups that are up."
        echo "# Shell syntax: load with  set -a; . \"$HA_ENV\"; set +a"
        kv STOMP_HA_DIR "$HA_DIR"
        kv STOMP_HA_SCRIPT "$SCRIPT"
        kv STOMP_HA_SETUPS "${up[*]}"
        for s in "${up[@]}"; do cat "$HA_RUN/$s.env"; done
    } > "$HA_ENV.tmp"
    mv -f "$HA_ENV.tmp" "$HA_ENV"
}

setups_from_args() {
    local s
    [ $# -gt 0 ] || set -- $SETUPS
    for s in "$@"; do
        case " $SETUPS " in *" $s "*) ;; *) die "unknown set-up '$s' (known: $SETUPS)" ;; esac
    done
    echo "$@"
}

node_arg() {
    [ $# -eq 1 ] && [ -n "${SETUP_OF[$1]-}" ] || die "name one node: ${!SETUP_OF[*]}"
    echo "$1"
}

main() {
    local cmd=${1-} node s offset
    [ $# -gt 0 ] && shift
    case $cmd in
        start)
            ha_lock
            for s in $(setups_from_args "$@"); do start_setup "$s"; done
            write_ha_env
            ;;
        stop)
            [ -d "$HA_DIR" ] || { log "nothing to stop"; exit 0; }
            ha_lock
            for s in $(setups_from_args "$@"); do
                for node in ${NODES_OF[$s]}; do stop_node "$node" TERM; done
                rm -f "$HA_RUN/$s.env"
            done
            write_ha_env
            ;;
        leader)
            [ $# -eq 1 ] || die "name one RabbitMQ queue"
            for node in ${NODES_OF[rabbitmq]}; do
                ha_pid "$node" >/dev/null || continue
                s=$(rabbitmqctl_as "$node" list_queues -p / name leader 2>/dev/null) || continue
                s=$(awk -v q="$1" '$1 == q { print $2 }' <<< "$s")
                [ -n "$s" ] || die "no queue '$1' known to the RabbitMQ cluster"
                for node in ${NODES_OF[rabbitmq]}; do
                    if [ "$(rmq_name "$node")" = "$s" ]; then echo "$node"; exit 0; fi
                done
                die "queue '$1': leader $s is not a node of this set-up"
            done
            die "no RabbitMQ node of this set-up answers"
            ;;
        pid)
            node=$(node_arg "$@")
            ha_pid "$node" || die "$node is not running"
            ;;
        kill)
            node=$(node_arg "$@")
            stop_node "$node" KILL
            ;;
        start-node)
            node=$(node_arg "$@")
            if ha_pid "$node" >/dev/null; then log "$node already running"; exit 0; fi
            [ -s "$HA_RUN/$node.sh" ] || die "$node was never configured: run ha.sh start first"
            offset=$(log_size "$node")
            launch_node "$node"
            wait_node "$node" "$offset" "$START_TIMEOUT"
            ;;
        status)
            for node in amq1 amq2 rmq1 rmq2 rmq3 art1 art2; do
                if s=$(ha_pid "$node"); then
                    if port_open "${PORT_OF[$node]}"; then echo "$node pid $s serving :${PORT_OF[$node]}"
                    else echo "$node pid $s standing by"; fi
                else
                    echo "$node down"
                fi
            done
            ;;
        -h | --help | '') sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; [ -n "$cmd" ] ;;
        *) die "unknown command '$cmd' (start, stop, kill, pid, leader, start-node, status)" ;;
    esac
}

main "$@"
