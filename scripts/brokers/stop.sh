#!/usr/bin/env bash
# scripts/brokers/stop.sh - stop the brokers that scripts/brokers/start.sh started.
#
# Environment (all optional):
#   BROKERS="activemq rabbitmq artemis apollo"   the brokers to stop; others keep running
#   BROKERS_DIR=${TMPDIR:-/tmp}/stomp-brokers   as given to start.sh
#   STOP_SIGNAL=TERM      TERM: clean shutdown (ActiveMQ and RabbitMQ flush their stores);
#                         KILL: simulate a crash (stored persistent messages still survive)
#   STOP_TIMEOUT=30       seconds to wait after SIGTERM before SIGKILL
#
# Only processes recorded in $BROKERS_DIR/run/*.pid are signalled, and only while their command
# line still names our broker (pid reuse guard). Stored state is kept: the next start.sh wipes it
# unless KEEP_STATE=1, so stop.sh + KEEP_STATE=1 start.sh restarts a broker with its messages:
#   BROKERS=rabbitmq scripts/brokers/stop.sh && BROKERS=rabbitmq KEEP_STATE=1 scripts/brokers/start.sh
# $BROKERS_DIR/brokers.env is rewritten to list the brokers still up (removed when none is).
set -euo pipefail

LOG_TAG=stop.sh
# shellcheck source-path=SCRIPTDIR source=_lib.sh
. "$(dirname "$0")/_lib.sh"
handle_args "$@"

STOP_SIGNAL=${STOP_SIGNAL:-TERM}
case $STOP_SIGNAL in
    TERM | KILL) ;;
    *) die "STOP_SIGNAL must be TERM or KILL, not '$STOP_SIGNAL'" ;;
esac

[ -d "$BROKERS_DIR" ] || { log "nothing to stop ($BROKERS_DIR does not exist)"; exit 0; }
take_lock
for b in $KNOWN_BROKERS; do
    if wants "$b"; then stop_broker "$b" "$STOP_SIGNAL"; fi
done
write_env
exit 0
