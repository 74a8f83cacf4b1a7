#!/usr/bin/env bash
# Real Apache Kafka 4.x test cluster for kafka-migrate (issue 4).
#
# KRaft, all on 127.0.0.1: 1 controller (node 0) + 4 brokers (nodes 1..4).
# Broker N listens on PORT_BASE+N (default 39091..39094), the controller on
# PORT_BASE+9 (39099). Racks: odd brokers rack-a, even brokers rack-b.
# Each broker has 2 log dirs. Jars come from Maven (tests/kafka/pom.xml) into
# target/kafka/lib; configs, data and logs live under target/kafka/cluster.
#
# usage: tests/kafka/cluster.sh start [--secure] | stop | status | bootstrap
#                               stop-broker N [--kill] | start-broker N
#                               pause-broker N | resume-broker N
#                               tool NAME [args...] | lib
#                               props MODE   (with --secure; prints a path)
#
# --secure (or KAFKA_HARNESS_SECURE=1) adds to every broker, beside its
# PLAINTEXT listener: SASL_SSL with SCRAM-SHA-512 on PORT_BASE+10+N, SSL
# with ssl.client.auth=required on PORT_BASE+20+N, SASL_PLAINTEXT with PLAIN
# on PORT_BASE+30+N; the StandardAuthorizer with super user admin (and
# ANONYMOUS, the PLAINTEXT listener's principal) and a user "limited"
# allowed Describe and DescribeConfigs on the cluster and every topic only.
# Certificates are made at start with openssl under target/kafka/cluster/
# secure. `props MODE` prints the client properties file of MODE:
# sasl-ssl, ssl, sasl-plaintext, each as admin, or with -limited appended
# as the limited user (bootstrap.servers included).
# env:   KAFKA_HARNESS_DIR (default <repo>/target/kafka)
#        KAFKA_HARNESS_PORT_BASE (39090)   KAFKA_HARNESS_READY_TIMEOUT (120 s)
#        KAFKA_HARNESS_BROKER_HEAP (384m)  KAFKA_HARNESS_CONTROLLER_HEAP (256m)
#        KAFKA_HARNESS_TOOL_HEAP (256m)    KAFKA_HARNESS_STOP_TIMEOUT (30 s)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BASE=${KAFKA_HARNESS_DIR:-$REPO/target/kafka}
LIB=$BASE/lib
CL=$BASE/cluster
PORT_BASE=${KAFKA_HARNESS_PORT_BASE:-39090}
NBROKERS=4
CONTROLLER_PORT=$((PORT_BASE + 9))
BROKER_HEAP=${KAFKA_HARNESS_BROKER_HEAP:-384m}
CONTROLLER_HEAP=${KAFKA_HARNESS_CONTROLLER_HEAP:-256m}
TOOL_HEAP=${KAFKA_HARNESS_TOOL_HEAP:-256m}
READY_TIMEOUT=${KAFKA_HARNESS_READY_TIMEOUT:-120}
SECURE=${KAFKA_HARNESS_SECURE:-0}
SEC=$CL/secure
# Test-only credentials of the secured listeners (nothing real is guarded).
ADMIN_PW=admin-Secr3t-pw
LIMITED_PW=limited-Secr3t-pw
STORE_PW=store-Secr3t-pw
STOP_TIMEOUT=${KAFKA_HARNESS_STOP_TIMEOUT:-30}
PY=${PYTHON:-python3}
# Marks every JVM this harness starts, so stop can find stragglers by it.
MARK="-Dkafka.harness.dir=$CL"
# Small, quick-starting JVMs: serial GC, few compiler threads.
NODE_JVM_OPTS=(-Xms64m -XX:+UseSerialGC -XX:CICompilerCount=2 -XX:ReservedCodeCacheSize=96m
  -Xlog:disable -Xlog:all=warning:stderr -Xlog:cds*=error:stderr -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$HERE/log4j2-broker.properties")
# Class-data sharing: the first JVM of each kind dumps the classes it loaded
# (at exit) into target/kafka/cds/KIND.jsa; later JVMs map it and start faster.
# KAFKA_HARNESS_CDS=0 turns it off.
CDS=${KAFKA_HARNESS_CDS:-1}
CDS_DIR=$BASE/cds
TOOL_JVM_OPTS=(-Xms32m -Xmx"$TOOL_HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
  -Xlog:disable -Xlog:all=warning:stderr -Xlog:cds*=error:stderr -Djava.awt.headless=true -Dlog4j2.configurationFile="$HERE/log4j2-tools.properties")

die() { echo "cluster.sh: $*" >&2; exit 1; }
log() { echo "cluster.sh: $*" >&2; }

rack_of() { if (( $1 % 2 )); then echo rack-a; else echo rack-b; fi; }
port_of() { echo $((PORT_BASE + $1)); }
bootstrap() {
  local out="" n
  for ((n = 1; n <= NBROKERS; n++)); do out+="${out:+,}127.0.0.1:$(port_of "$n")"; done
  echo "$out"
}
node_name() { if [[ $1 == 0 ]]; then echo controller; else echo "broker-$1"; fi; }

# ---------------------------------------------------------------- jars
ensure_lib() {
  if [[ -f $LIB/.stamp && $LIB/.stamp -nt $HERE/pom.xml ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (need Maven 3 and Java 17)"
  log "resolving Kafka jars with Maven into $LIB"
  rm -rf "$LIB" "$CDS_DIR"
  mkdir -p "$LIB"
  (cd "$HERE" && { mvn -q -o dependency:copy-dependencies -DoutputDirectory="$LIB" >/dev/null 2>&1 ||
    mvn -q -B dependency:copy-dependencies -DoutputDirectory="$LIB"; }) >&2 || die "maven failed"
  ls "$LIB"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no kafka jar in $LIB"
  ls "$LIB" >"$LIB/.stamp"
}

# ---------------------------------------------------------------- class-data sharing
# cds_opts KIND DUMP: sets CDS_OPTS to use KIND's archive when there is a good
# one, else (DUMP=1) to dump one at exit into a temporary file that a later
# call checks and promotes.
cds_opts() {
  local kind=$1 dump=$2 f t
  CDS_OPTS=()
  [[ $CDS == 1 ]] || return 0
  f=$CDS_DIR/$kind.jsa
  mkdir -p "$CDS_DIR"
  if [[ ! -f $f ]]; then
    for t in "$f".tmp.*; do
      [[ -f $t ]] || continue
      [[ -s /proc/${t##*.}/cmdline ]] && continue # its JVM is still running
      if [[ ! -f $f ]] && java -Xshare:on -XX:SharedArchiveFile="$t" -cp "$LIB/*" -version >/dev/null 2>&1; then
        # Concurrent tool runs may promote the same archive; losing the race is fine.
        mv -f "$t" "$f" 2>/dev/null || true
      else
        rm -f "$t"
      fi
    done
  fi
  if [[ -f $f ]]; then
    CDS_OPTS=(-XX:SharedArchiveFile="$f")
  elif [[ $dump == 1 ]] && ! compgen -G "$f.tmp.*" >/dev/null; then
    CDS_OPTS=(-XX:ArchiveClassesAtExit="$f.tmp.PID")
  fi
}

# ---------------------------------------------------------------- tools
tool_class() {
  case $1 in
    kafka-topics) echo org.apache.kafka.tools.TopicCommand ;;
    kafka-configs) echo kafka.admin.ConfigCommand ;;
    kafka-log-dirs) echo org.apache.kafka.tools.LogDirsCommand ;;
    kafka-reassign-partitions) echo org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
    kafka-leader-election) echo org.apache.kafka.tools.LeaderElectionCommand ;;
    kafka-console-producer) echo org.apache.kafka.tools.ConsoleProducer ;;
    kafka-console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    kafka-consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    kafka-broker-api-versions) echo org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    kafka-metadata-quorum) echo org.apache.kafka.tools.MetadataQuorumCommand ;;
    kafka-get-offsets) echo org.apache.kafka.tools.GetOffsetShell ;;
    kafka-delete-records) echo org.apache.kafka.tools.DeleteRecordsCommand ;;
    kafka-features) echo org.apache.kafka.tools.FeatureCommand ;;
    kafka-producer-perf-test) echo org.apache.kafka.tools.ProducerPerformance ;;
    kafka-storage) echo kafka.tools.StorageTool ;;
    *.*) echo "$1" ;; # a fully qualified main class
    *) return 1 ;;
  esac
}

run_tool() {
  local name=${1:-}
  [[ -n $name ]] || die "usage: cluster.sh tool NAME [args...]"
  shift
  local cls
  cls=$(tool_class "$name") || die "unknown tool '$name' (kafka-topics, kafka-configs, kafka-log-dirs, kafka-reassign-partitions, kafka-leader-election, kafka-console-producer, kafka-console-consumer, kafka-consumer-groups, kafka-broker-api-versions, kafka-metadata-quorum, kafka-get-offsets, kafka-delete-records, kafka-features, kafka-producer-perf-test, kafka-storage, or a main class)"
  ensure_lib
  cds_opts tools 1
  if [[ ${CDS_OPTS[0]:-} == -XX:ArchiveClassesAtExit=* ]]; then
    CDS_OPTS=("${CDS_OPTS[0]/.PID/.$$}")
    local rc=0
    java "${TOOL_JVM_OPTS[@]}" "${CDS_OPTS[@]}" -cp "$LIB/*" "$cls" "$@" || rc=$?
    return $rc
  fi
  exec java "${TOOL_JVM_OPTS[@]}" "${CDS_OPTS[@]}" -cp "$LIB/*" "$cls" "$@"
}

# ---------------------------------------------------------------- processes
pid_file() { echo "$CL/run/$(node_name "$1").pid"; }
# Is PID a JVM started by this harness for node N?
is_ours() {
  local pid=$1 n=${2:-}
  [[ -r /proc/$pid/cmdline ]] || return 1
  local cmd
  cmd=$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null) || return 1
  [[ $cmd == *"$MARK "* ]] || return 1
  [[ -z $n || $cmd == *"-Dkafka.harness.node=$(node_name "$n") "* ]]
}
node_pid() { # prints the pid of node N if running
  local f pid
  f=$(pid_file "$1")
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  is_ours "$pid" "$1" && echo "$pid"
}
all_harness_pids() { # every live JVM carrying this harness's mark
  local d pid
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    is_ours "$pid" && echo "$pid"
  done
  return 0
}

start_node() {
  local n=$1 name heap
  name=$(node_name "$n")
  if node_pid "$n" >/dev/null; then log "$name already running"; return 0; fi
  heap=$BROKER_HEAP
  [[ $n == 0 ]] && heap=$CONTROLLER_HEAP
  mkdir -p "$CL/run" "$CL/logs"
  # one archive per kind, dumped by the controller and by broker 1
  if [[ $n == 0 ]]; then cds_opts controller 1; else cds_opts broker "$([[ $n == 1 ]] && echo 1 || echo 0)"; fi
  # setsid: detached from the caller's process group; bash writes its pid then execs java.
  setsid bash -c 'echo $$ >"$0"; for ((i = 1; i <= $#; i++)); do [[ ${!i} == -XX:ArchiveClassesAtExit=* ]] && set -- "${@:1:i-1}" "${!i/.PID/.$$}" "${@:i+1}"; done; exec "$@"' "$(pid_file "$n")" \
    java -Xmx"$heap" "${NODE_JVM_OPTS[@]}" "${CDS_OPTS[@]}" "$MARK" -Dkafka.harness.node="$name" \
    -Dkafka.logs.dir="$CL/logs" -cp "$LIB/*" kafka.Kafka "$CL/config/$name.properties" \
    </dev/null >>"$CL/logs/$name.out" 2>&1 &
  local i
  for ((i = 0; i < 50; i++)); do [[ -s $(pid_file "$n") ]] && break; sleep 0.1; done
}

# Stop the given nodes: SIGTERM (controlled shutdown), then SIGKILL after the timeout.
stop_nodes() {
  local sig=$1 timeout=$2; shift 2
  local n pid pids=() left deadline
  for n in "$@"; do
    # SIGCONT first: a paused node takes no SIGTERM until it runs again.
    if pid=$(node_pid "$n"); then kill -CONT "$pid" 2>/dev/null || true; kill -"$sig" "$pid" 2>/dev/null || true; pids+=("$pid"); fi
    rm -f "$(pid_file "$n")"
  done
  deadline=$((SECONDS + timeout))
  while ((${#pids[@]})); do
    left=()
    for pid in "${pids[@]}"; do
      # a zombie (already exited, parent gone) counts as stopped
      if [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null; then left+=("$pid"); fi
    done
    pids=("${left[@]+"${left[@]}"}")
    ((${#pids[@]})) || break
    if ((SECONDS >= deadline)); then
      log "still running after ${timeout}s, killing: ${pids[*]}"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------- metadata
metadata() { "$PY" "$HERE/kwire.py" metadata "$1" --timeout 2 2>/dev/null; }
# Number of brokers that the broker at PORT lists in its metadata (or nothing).
listed_brokers() {
  local r
  r=$("$PY" "$HERE/kwire.py" brokers "127.0.0.1:$1" --timeout 2 2>/dev/null) || return 1
  r=${r% *}
  echo "${r//,/ }"
}

# Wait until every broker in WANT answers and lists exactly WANT as its live brokers.
wait_brokers() {
  local want="$1" timeout=$2 deadline n got ok
  deadline=$((SECONDS + timeout))
  while :; do
    ok=1
    for n in $want; do
      node_pid "$n" >/dev/null || { log "$(node_name "$n") exited; see $CL/logs/$(node_name "$n").{log,out}"; tail -n 20 "$CL/logs/$(node_name "$n").out" >&2 || true; return 1; }
      got=$(listed_brokers "$(port_of "$n")" || true)
      [[ $got == "$want" ]] || { ok=0; break; }
    done
    ((ok)) && return 0
    ((SECONDS < deadline)) || { log "timeout after ${timeout}s waiting for brokers [$want] (last: broker $n sees [${got:-no answer}])"; return 1; }
    sleep 0.3
  done
}

live_set_without() { # the broker ids 1..N except $1, in order
  local n out=""
  for ((n = 1; n <= NBROKERS; n++)); do
    [[ $n == "$1" ]] && continue
    node_pid "$n" >/dev/null && out+="${out:+ }$n"
  done
  echo "$out"
}

# ---------------------------------------------------------------- secured listeners
sasl_ssl_port() { echo $((PORT_BASE + 10 + $1)); }
ssl_port() { echo $((PORT_BASE + 20 + $1)); }
sasl_plaintext_port() { echo $((PORT_BASE + 30 + $1)); }
bootstrap_of() { # the bootstrap list of one kind of listener (its port function)
  local out="" n
  for ((n = 1; n <= NBROKERS; n++)); do out+="${out:+,}127.0.0.1:$("$1" "$n")"; done
  echo "$out"
}

# A CA, one broker certificate for 127.0.0.1 and localhost (PKCS12 keystore),
# and client certificates for admin and limited (PEM: key then certificate),
# fresh every start.
gen_certs() {
  command -v openssl >/dev/null || die "openssl not found (needed by --secure)"
  mkdir -p "$SEC"
  (
    cd "$SEC"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
      -subj "/CN=kafka-migrate test CA" -keyout ca.key -out ca.pem 2>/dev/null
    issue() { # NAME SUBJECT EXTENSION
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$1.ext" -out "$1.crt" 2>/dev/null
      openssl pkcs8 -topk8 -nocrypt -in "$1.key" -out "$1.p8"
    }
    issue broker "/CN=localhost" "subjectAltName=IP:127.0.0.1,DNS:localhost"
    openssl pkcs12 -export -in broker.crt -inkey broker.key -name broker -passout "pass:$STORE_PW" -out broker.p12
    for u in admin limited; do
      issue "$u" "/CN=$u" "extendedKeyUsage=clientAuth"
      cat "$u.p8" "$u.crt" >"client-$u.pem"
    done
    chmod 600 ./*.key ./*.p8 client-*.pem broker.p12
  ) || die "making the certificates failed"
}

# The secured listeners of broker N (appended to its configuration: later
# keys win).
secure_broker_config() {
  local n=$1 all
  all="PLAINTEXT://127.0.0.1:$(port_of "$n"),SASL_SSL://127.0.0.1:$(sasl_ssl_port "$n"),SSL://127.0.0.1:$(ssl_port "$n"),SASL_PLAINTEXT://127.0.0.1:$(sasl_plaintext_port "$n")"
  cat <<EOF
# --secure: SASL_SSL (SCRAM-SHA-512), SSL with client certificates, SASL_PLAINTEXT (PLAIN)
listeners=$all
advertised.listeners=$all
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
ssl.keystore.type=PKCS12
ssl.keystore.location=$SEC/broker.p12
ssl.keystore.password=$STORE_PW
ssl.key.password=$STORE_PW
ssl.truststore.type=PEM
ssl.truststore.location=$SEC/ca.pem
listener.name.ssl.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]*).*\$/\$1/,DEFAULT
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="$ADMIN_PW" user_limited="$LIMITED_PW";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:admin
EOF
}

# The client properties of each secured mode, as admin and as limited.
write_client_props() {
  local u pw suffix
  for u in admin limited; do
    pw=$ADMIN_PW; suffix=""
    if [[ $u == limited ]]; then pw=$LIMITED_PW; suffix=-limited; fi
    cat >"$SEC/sasl-ssl$suffix.properties" <<EOF
bootstrap.servers=$(bootstrap_of sasl_ssl_port)
security.protocol=SASL_SSL
ssl.truststore.type=PEM
ssl.truststore.location=$SEC/ca.pem
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$u" password="$pw";
EOF
    cat >"$SEC/ssl$suffix.properties" <<EOF
bootstrap.servers=$(bootstrap_of ssl_port)
security.protocol=SSL
ssl.truststore.type=PEM
ssl.truststore.location=$SEC/ca.pem
ssl.keystore.type=PEM
ssl.keystore.location=$SEC/client-$u.pem
EOF
    cat >"$SEC/sasl-plaintext$suffix.properties" <<EOF
bootstrap.servers=$(bootstrap_of sasl_plaintext_port)
security.protocol=SASL_PLAINTEXT
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="$u" password="$pw";
EOF
  done
}

# The limited user may look, not change: Describe and DescribeConfigs on
# the cluster and on every topic (added over PLAINTEXT, whose ANONYMOUS is
# a super user).
add_acls() {
  cds_opts tools 0
  java "${TOOL_JVM_OPTS[@]}" "${CDS_OPTS[@]}" -cp "$LIB/*" org.apache.kafka.tools.AclCommand \
    --bootstrap-server "127.0.0.1:$(port_of 1)" --add --allow-principal User:limited \
    --operation Describe --operation DescribeConfigs --cluster --topic '*' \
    >"$CL/logs/acls.out" 2>&1 || { cat "$CL/logs/acls.out" >&2; die "kafka-acls failed"; }
}

cmd_props() {
  local mode=${1:-}
  [[ -f $SEC/enabled ]] || die "the cluster was not started with --secure"
  [[ -n $mode && -f $SEC/$mode.properties ]] || die "usage: cluster.sh props sasl-ssl|ssl|sasl-plaintext[-limited]"
  echo "$SEC/$mode.properties"
}

# ---------------------------------------------------------------- configs
write_configs() {
  local n name voters="0@127.0.0.1:$CONTROLLER_PORT"
  mkdir -p "$CL/config" "$CL/data" "$CL/logs" "$CL/run"
  cat >"$CL/config/controller.properties" <<EOF
# generated by tests/kafka/cluster.sh
process.roles=controller
node.id=0
controller.quorum.voters=$voters
listeners=CONTROLLER://127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$CL/data/controller
# fence a killed broker quickly
broker.session.timeout.ms=6000
num.network.threads=2
num.io.threads=2
background.threads=2
EOF
  for ((n = 1; n <= NBROKERS; n++)); do
    name=$(node_name "$n")
    cat >"$CL/config/$name.properties" <<EOF
# generated by tests/kafka/cluster.sh
process.roles=broker
node.id=$n
broker.rack=$(rack_of "$n")
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$(port_of "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(port_of "$n")
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$CL/data/$name/d0,$CL/data/$name/d1
# test timings
replica.lag.time.max.ms=5000
broker.heartbeat.interval.ms=1000
auto.leader.rebalance.enable=false
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
# internal topics sized for 4 brokers
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
share.coordinator.state.topic.num.partitions=3
num.partitions=1
default.replication.factor=1
# small footprint on a 2-core machine
num.network.threads=2
num.io.threads=2
background.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
log.segment.bytes=16777216
EOF
    if [[ $SECURE == 1 ]]; then secure_broker_config "$n" >>"$CL/config/$name.properties"; fi
  done
  if [[ $SECURE == 1 ]]; then
    cat >>"$CL/config/controller.properties" <<EOF
# --secure: ACLs live in the metadata log; the brokers reach the controller as ANONYMOUS
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:admin
EOF
  fi
}

format_all() {
  local cid=$1 n pids=() rc=0
  # SCRAM credentials live in the metadata log, written at format time.
  SCRAM_ARGS=()
  if [[ $SECURE == 1 ]]; then
    SCRAM_ARGS=(--add-scram "SCRAM-SHA-512=[name=admin,password=$ADMIN_PW]"
      --add-scram "SCRAM-SHA-512=[name=limited,password=$LIMITED_PW]")
  fi
  cds_opts tools 0
  for ((n = 0; n <= NBROKERS; n++)); do
    java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto "${CDS_OPTS[@]}" \
      -Dlog4j2.configurationFile="$HERE/log4j2-tools.properties" -cp "$LIB/*" kafka.tools.StorageTool \
      format -t "$cid" -c "$CL/config/$(node_name "$n").properties" "${SCRAM_ARGS[@]}" >"$CL/logs/format-$(node_name "$n").out" 2>&1 &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || rc=1; done
  if ((rc)); then cat "$CL"/logs/format-*.out >&2; die "storage format failed"; fi
}

check_ports_free() {
  local ports=("$CONTROLLER_PORT") n
  for ((n = 1; n <= NBROKERS; n++)); do
    ports+=("$(port_of "$n")")
    if [[ $SECURE == 1 ]]; then ports+=("$(sasl_ssl_port "$n")" "$(ssl_port "$n")" "$(sasl_plaintext_port "$n")"); fi
  done
  "$PY" - "${ports[@]}" <<'EOF' || die "ports in use (set KAFKA_HARNESS_PORT_BASE to move them)"
import socket, sys
busy = []
for p in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", int(p)))
    except OSError:
        busy.append(p)
    finally:
        s.close()
if busy:
    print("busy ports: " + " ".join(busy), file=sys.stderr)
    sys.exit(1)
EOF
}

# ---------------------------------------------------------------- commands
cmd_start() {
  local t0=$SECONDS n
  local running
  running=$(all_harness_pids)
  [[ -z $running ]] || die "a harness cluster is already running (pids: $(echo $running)); run 'cluster.sh stop' first"
  command -v java >/dev/null || die "java not found (need Java 17+)"
  ensure_lib
  check_ports_free
  rm -rf "$CL"
  local cid key cache tf=$SECONDS
  if [[ $SECURE == 1 ]]; then gen_certs; fi
  write_configs
  # Formatting costs 5 JVM starts; the formatted (empty) storage of a given
  # configuration is cached and copied, so later clusters reuse its cluster id.
  key=$(cat "$CL"/config/*.properties "$LIB/.stamp" | cksum | cut -d' ' -f1)
  cache=$BASE/format-cache/$key
  if [[ -f $cache/cluster-id ]]; then
    cp -a "$cache/data" "$CL/"
    cid=$(<"$cache/cluster-id")
    log "storage copied from the format cache"
  else
    # Like Kafka's Uuid.randomUuid: never an id starting with '-', which the
    # storage tool's argument parser would take for an option.
    cid=$("$PY" -c 'import base64,uuid
while True:
    c = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not c.startswith("-"): break
print(c)')
    format_all "$cid"
    rm -rf "$BASE/format-cache"
    mkdir -p "$cache"
    cp -a "$CL/data" "$cache/"
    echo "$cid" >"$cache/cluster-id"
    log "storage formatted in $((SECONDS - tf))s"
  fi
  echo "$cid" >"$CL/cluster-id"
  for ((n = 0; n <= NBROKERS; n++)); do start_node "$n"; done
  local want
  want=$(seq -s ' ' 1 "$NBROKERS")
  if ! wait_brokers "$want" "$READY_TIMEOUT"; then
    log "cluster did not become ready; stopping it (logs in $CL/logs)"
    cmd_stop >&2 || true
    exit 1
  fi
  if [[ $SECURE == 1 ]]; then
    add_acls
    write_client_props
    touch "$SEC/enabled"
  fi
  bootstrap >"$BASE/bootstrap"
  log "ready in $((SECONDS - t0))s; cluster id $cid; logs in $CL/logs"
  bootstrap
}

cmd_stop() {
  local n brokers=() stray
  for ((n = 1; n <= NBROKERS; n++)); do brokers+=("$n"); done
  stop_nodes TERM "$STOP_TIMEOUT" "${brokers[@]}"
  stop_nodes TERM "$STOP_TIMEOUT" 0
  stray=$(all_harness_pids)
  if [[ -n $stray ]]; then
    log "killing stray harness JVMs: $(echo $stray)"
    # shellcheck disable=SC2086
    kill -KILL $stray 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$BASE/bootstrap"
  log "stopped"
}

cmd_stop_broker() {
  local n=${1:-} mode=${2:-}
  [[ $n =~ ^[1-9][0-9]*$ && $n -le $NBROKERS ]] || die "usage: cluster.sh stop-broker N [--kill]  (N in 1..$NBROKERS)"
  node_pid "$n" >/dev/null || { log "broker $n is not running"; return 0; }
  local others
  others=$(live_set_without "$n")
  if [[ $mode == --kill ]]; then
    stop_nodes KILL 5 "$n"
  else
    stop_nodes TERM "$STOP_TIMEOUT" "$n"
  fi
  # until the controller has fenced it (clean: at once; killed: broker.session.timeout.ms)
  if [[ -n $others ]]; then wait_brokers "$others" 60 || die "broker $n still listed by the others"; fi
  log "broker $n stopped"
}

cmd_start_broker() {
  local n=${1:-}
  [[ $n =~ ^[1-9][0-9]*$ && $n -le $NBROKERS ]] || die "usage: cluster.sh start-broker N  (N in 1..$NBROKERS)"
  [[ -f $CL/config/$(node_name "$n").properties ]] || die "no cluster configured; run 'cluster.sh start'"
  ensure_lib
  start_node "$n"
  local want
  want=$(live_set_without 0)
  wait_brokers "$want" "$READY_TIMEOUT" || die "broker $n did not come back"
  log "broker $n running"
}

# A hung broker (SIGSTOP): it keeps its sockets and its place in the ISRs
# but fetches and heartbeats no more, until the leaders drop it by lag
# (replica.lag.time.max.ms) and the controller fences it
# (broker.session.timeout.ms). resume-broker lets it run on (SIGCONT).
cmd_pause_broker() {
  local n=${1:-} sig=$2 pid
  [[ $n =~ ^[1-9][0-9]*$ && $n -le $NBROKERS ]] || die "usage: cluster.sh pause-broker|resume-broker N  (N in 1..$NBROKERS)"
  pid=$(node_pid "$n") || die "broker $n is not running"
  kill -"$sig" "$pid"
  if [[ $sig == CONT ]]; then
    # Paused past broker.session.timeout.ms, the broker was fenced and is
    # missing from every broker's metadata until it registers again: a
    # scenario started before then plans as though it were dead.
    wait_brokers "$(live_set_without 0)" "$READY_TIMEOUT" || die "broker $n did not come back"
  fi
  log "broker $n $([[ $sig == STOP ]] && echo paused || echo resumed)"
}

cmd_status() {
  local n pid rc=0 md
  for ((n = 0; n <= NBROKERS; n++)); do
    if pid=$(node_pid "$n"); then
      printf '%-10s running  pid %-7s %s\n' "$(node_name "$n")" "$pid" \
        "$([[ $n == 0 ]] && echo "controller 127.0.0.1:$CONTROLLER_PORT" || echo "127.0.0.1:$(port_of "$n") $(rack_of "$n")")"
    else
      printf '%-10s stopped\n' "$(node_name "$n")"; rc=3
    fi
  done
  if md=$(metadata "$(bootstrap)"); then
    echo "$md" | "$PY" -c 'import json,sys; m=json.load(sys.stdin); print("metadata: cluster", m["cluster_id"], "live brokers", [b["id"] for b in m["brokers"]], "topics", len(m["topics"]))'
  else
    echo "metadata: no broker answers"
  fi
  return $rc
}

case ${1:-} in
  start) [[ ${2:-} == --secure ]] && SECURE=1; cmd_start ;;
  props) shift; cmd_props "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  stop-broker) shift; cmd_stop_broker "$@" ;;
  start-broker) shift; cmd_start_broker "$@" ;;
  pause-broker) cmd_pause_broker "${2:-}" STOP ;;
  resume-broker) cmd_pause_broker "${2:-}" CONT ;;
  bootstrap) bootstrap ;;
  tool) shift; run_tool "$@" ;;
  lib) ensure_lib; echo "$LIB" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
