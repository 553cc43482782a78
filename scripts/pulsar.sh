#!/usr/bin/env bash
# scripts/pulsar.sh — a real Apache Pulsar standalone broker for Magnetar development and tests.
#
#   scripts/pulsar.sh install   fetch + verify + unpack Pulsar into the cache (reused later)
#   scripts/pulsar.sh up        start standalone in the background and wait until it serves
#   scripts/pulsar.sh down      stop it (SIGTERM, wait, then SIGKILL)
#   scripts/pulsar.sh status    running or not, versions, addresses (exit 3 when not running)
#   scripts/pulsar.sh wipe      down, then delete the data directory
#
# Environment:
#   MAGNETAR_CACHE_DIR       cache root (default ~/.cache/magnetar); Pulsar goes to <root>/pulsar/<version>
#   MAGNETAR_PULSAR_DATA     data, logs, pid file (default <cache root>/pulsar-data)
#   MAGNETAR_PULSAR_VERSION  Pulsar version (default 4.0.8, the current LTS line; needs Java 21+)
#   MAGNETAR_PULSAR_TIMEOUT  seconds `up` waits for the broker (default 180)
#   MAGNETAR_JAVA_HOME       JDK to use; otherwise JAVA_HOME if >= 21, else the newest >= 21 in /usr/lib/jvm
#   MAGNETAR_PULSAR_HEAP     heap size (default 1g); direct memory is the same size
#   MAGNETAR_PULSAR_PORT, MAGNETAR_PULSAR_HTTP_PORT
#                            ports (default 6650, 8080); change them and the data dir to run a second
#                            broker beside the shared one (the local bookie picks a free port itself)
set -euo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly VERSION="${MAGNETAR_PULSAR_VERSION:-4.0.8}"
readonly CACHE_ROOT="${MAGNETAR_CACHE_DIR:-$HOME/.cache/magnetar}"
readonly PULSAR_ROOT="$CACHE_ROOT/pulsar"
readonly PULSAR_DIR="$PULSAR_ROOT/$VERSION"
readonly DL_DIR="$PULSAR_ROOT/dl"
readonly TARBALL="$DL_DIR/pulsar-$VERSION-bin.tar.gz"
readonly MAVEN_URL="${MAGNETAR_MAVEN_URL:-https://repo1.maven.org/maven2}/org/apache/pulsar/pulsar-server-distribution/$VERSION/pulsar-server-distribution-$VERSION-bin.tar.gz"
readonly DATA_DIR="${MAGNETAR_PULSAR_DATA:-$CACHE_ROOT/pulsar-data}"
readonly LOG_DIR="$DATA_DIR/logs"
readonly LOG_FILE="$LOG_DIR/pulsar-standalone.log"
readonly OUT_FILE="$LOG_DIR/pulsar-standalone.out"
readonly PID_FILE="$DATA_DIR/pulsar.pid"
readonly INFO_FILE="$DATA_DIR/pulsar.info"
readonly CONF_FILE="$DATA_DIR/conf/standalone.conf"
readonly OVERRIDES="$SCRIPT_DIR/pulsar/standalone.overrides.conf"
readonly TIMEOUT="${MAGNETAR_PULSAR_TIMEOUT:-180}"
readonly HEAP="${MAGNETAR_PULSAR_HEAP:-1g}"
readonly PORT="${MAGNETAR_PULSAR_PORT:-6650}"
readonly HTTP_PORT="${MAGNETAR_PULSAR_HTTP_PORT:-8080}"
readonly ADMIN="http://127.0.0.1:$HTTP_PORT"
readonly SERVICE="pulsar://127.0.0.1:$PORT"
readonly MIN_JAVA=21

log() { echo "pulsar: $*"; }
die() { echo "pulsar: error: $*" >&2; exit 1; }

# java_major prints the major version of the java binary $1 (e.g. 25), or nothing.
java_major() {
	local line
	line="$("$1" -version 2>&1 | grep -m1 'version "' || true)"
	[[ $line =~ \"1\.([0-9]+) ]] && { echo "${BASH_REMATCH[1]}"; return; }
	[[ $line =~ \"([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
	return 0
}

# find_java_home prints a JDK home whose java is >= MIN_JAVA: MAGNETAR_JAVA_HOME, then JAVA_HOME,
# then the newest under /usr/lib/jvm. Pulsar 3.3+ (and so 4.0) are built for Java 21.
find_java_home() {
	local h m best="" best_m=0
	if [[ -n ${MAGNETAR_JAVA_HOME:-} ]]; then
		[[ -x $MAGNETAR_JAVA_HOME/bin/java ]] || die "MAGNETAR_JAVA_HOME=$MAGNETAR_JAVA_HOME has no bin/java"
		echo "$MAGNETAR_JAVA_HOME"
		return
	fi
	if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
		m="$(java_major "$JAVA_HOME/bin/java")"
		if [[ -n $m && $m -ge $MIN_JAVA ]]; then
			echo "$JAVA_HOME"
			return
		fi
	fi
	for h in /usr/lib/jvm/*/; do
		h="${h%/}"
		[[ -x $h/bin/java && ! -L $h ]] || continue
		m="$(java_major "$h/bin/java")"
		if [[ -n $m && $m -ge $MIN_JAVA && $m -gt $best_m ]]; then
			best="$h"
			best_m="$m"
		fi
	done
	[[ -n $best ]] || die "no JDK >= $MIN_JAVA found (JAVA_HOME=${JAVA_HOME:-unset}, /usr/lib/jvm); set MAGNETAR_JAVA_HOME"
	echo "$best"
}

# with_lock runs "$@" holding an exclusive lock, so parallel `make pulsar-up` calls do not race.
with_lock() {
	mkdir -p "$PULSAR_ROOT"
	exec 9>"$PULSAR_ROOT/.lock"
	flock -w 600 9 || die "timed out waiting for lock $PULSAR_ROOT/.lock"
	"$@"
}

# fetch_checksum writes "<algo> <hex>" for the tarball: the .sha512 next to it on Maven Central
# if published, else the .sha1 (Maven Central publishes .sha1/.md5 for Pulsar artifacts).
# The checksum is cached next to the tarball so verifying works offline later.
fetch_checksum() {
	local algo sum
	for algo in sha512 sha1; do
		if [[ -s $TARBALL.$algo ]]; then
			echo "$algo $(awk '{print $1; exit}' "$TARBALL.$algo")"
			return
		fi
	done
	for algo in sha512 sha1; do
		if sum="$(curl -fsSL --retry 3 --connect-timeout 20 "$MAVEN_URL.$algo" 2>/dev/null)"; then
			sum="$(awk '{print $1; exit}' <<<"$sum")"
			[[ $sum =~ ^[0-9a-fA-F]+$ ]] || continue
			echo "$sum" >"$TARBALL.$algo"
			echo "$algo $sum"
			return
		fi
	done
	die "could not fetch $MAVEN_URL.sha512 or .sha1 to verify the download"
}

do_install() {
	if [[ -x $PULSAR_DIR/bin/pulsar && -f $PULSAR_DIR/.magnetar-installed ]]; then
		log "Pulsar $VERSION already installed in $PULSAR_DIR"
		return
	fi
	mkdir -p "$DL_DIR"
	if [[ ! -s $TARBALL ]]; then
		log "downloading $MAVEN_URL (about 245 MB)"
		curl -fsSL --retry 3 --connect-timeout 20 -o "$TARBALL.part" "$MAVEN_URL" ||
			die "download failed: $MAVEN_URL"
		mv -f "$TARBALL.part" "$TARBALL"
	fi
	local cs algo want got
	cs="$(fetch_checksum)"
	algo="${cs%% *}"
	want="${cs#* }"
	got="$("${algo}sum" "$TARBALL" | awk '{print $1}')"
	if [[ ${got,,} != "${want,,}" ]]; then
		mv -f "$TARBALL" "$TARBALL.bad"
		rm -f "$TARBALL.$algo" # fetch the checksum afresh next time too
		die "$algo mismatch for $TARBALL (got $got, want $want); moved it to $TARBALL.bad, run install again"
	fi
	log "verified $algo of $(basename "$TARBALL")"
	# Extract next to the target and rename: a half-extracted tree is never seen as installed.
	local tmp
	rm -rf "$PULSAR_ROOT"/.extract.* # leftovers of an interrupted install (we hold the lock)
	tmp="$(mktemp -d "$PULSAR_ROOT/.extract.XXXXXX")"
	tar -xzf "$TARBALL" -C "$tmp"
	[[ -x $tmp/apache-pulsar-$VERSION/bin/pulsar ]] || die "tarball has no apache-pulsar-$VERSION/bin/pulsar"
	touch "$tmp/apache-pulsar-$VERSION/.magnetar-installed"
	rm -rf "$PULSAR_DIR"
	mv "$tmp/apache-pulsar-$VERSION" "$PULSAR_DIR"
	rm -rf "$tmp"
	log "installed Pulsar $VERSION in $PULSAR_DIR"
}

# http_code prints the HTTP status of a GET (000 when nothing answers).
http_code() {
	curl -s -o /dev/null -m "${2:-5}" -w '%{http_code}' "$1" 2>/dev/null || true
}

healthy() {
	[[ "$(curl -s -m 10 "$ADMIN/admin/v2/brokers/health" 2>/dev/null || true)" == ok ]]
}

# our_pid prints the pid from the pid file if that process is alive.
our_pid() {
	local pid
	[[ -f $PID_FILE ]] || return 0
	pid="$(cat "$PID_FILE" 2>/dev/null || true)"
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		echo "$pid"
	fi
}

# write_conf builds the effective standalone.conf: distribution defaults with our overrides.
write_conf() {
	mkdir -p "$(dirname "$CONF_FILE")"
	local keys
	# Java Properties keeps the last duplicate but the bookie's commons-configuration turns
	# duplicates into lists, so every overridden key must appear exactly once.
	keys="$(sed -n 's/^\([A-Za-z0-9_.]*\)=.*/\1/p' "$OVERRIDES" | paste -sd'|')|brokerServicePort|webServicePort"
	{
		echo "# Generated by scripts/pulsar.sh from $PULSAR_DIR/conf/standalone.conf + $OVERRIDES"
		grep -Ev "^($keys)=" "$PULSAR_DIR/conf/standalone.conf"
		cat "$OVERRIDES"
		printf 'brokerServicePort=%s\nwebServicePort=%s\n' "$PORT" "$HTTP_PORT"
	} >"$CONF_FILE.tmp"
	mv -f "$CONF_FILE.tmp" "$CONF_FILE"
}

admin() { # admin METHOD PATH [JSON]: prints the HTTP status code, body goes to stderr on failure.
	local method="$1" path="$2" body="${3:-}" out code
	out="$(mktemp)"
	if [[ -n $body ]]; then
		code="$(curl -s -m 30 -o "$out" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' -d "$body" "$ADMIN$path" || true)"
	else
		code="$(curl -s -m 30 -o "$out" -w '%{http_code}' -X "$method" "$ADMIN$path" || true)"
	fi
	if [[ ! $code =~ ^2 && $code != 409 && $code != 404 ]]; then
		echo "pulsar: $method $path -> $code: $(head -c 300 "$out")" >&2
	fi
	rm -f "$out"
	echo "$code"
}

ensure_namespace() {
	local ns="$1" code
	code="$(admin GET "/admin/v2/namespaces/$ns/retention")"
	if [[ $code == 404 ]]; then
		code="$(admin PUT "/admin/v2/namespaces/$ns")"
		[[ $code =~ ^2 || $code == 409 ]] || die "creating namespace $ns failed (HTTP $code)"
	fi
	code="$(admin POST "/admin/v2/namespaces/$ns/retention" '{"retentionTimeInMinutes":-1,"retentionSizeInMB":-1}')"
	[[ $code =~ ^2 ]] || die "setting infinite retention on $ns failed (HTTP $code)"
}

# provision makes sure what Magnetar expects exists: tenant public, namespaces public/default and
# public/nexmark with infinite retention, and a serving transaction coordinator. All idempotent.
provision() {
	local code
	code="$(admin GET /admin/v2/tenants/public)"
	if [[ $code == 404 ]]; then
		code="$(admin PUT /admin/v2/tenants/public '{"adminRoles":[],"allowedClusters":["standalone"]}')"
		[[ $code =~ ^2 || $code == 409 ]] || die "creating tenant public failed (HTTP $code)"
	fi
	ensure_namespace public/default
	ensure_namespace public/nexmark
	ensure_transactions
}

# ensure_transactions makes sure the transaction coordinator's metadata exists: the pulsar/system
# namespace and the partitioned topic transaction_coordinator_assign (one partition = one
# coordinator). Standalone 4.0 creates both itself when transactionCoordinatorEnabled=true; this
# covers a broker that came up without them. The coordinator itself loads lazily, when the first
# client with transactions enabled connects, so /admin/v3/transactions/coordinatorStats answers
# 404 until then: internal/testbroker's TestTransactions checks that a transaction really opens.
ensure_transactions() {
	local code parts
	code="$(admin GET /admin/v2/namespaces/pulsar/system/retention)"
	if [[ $code == 404 ]]; then
		code="$(admin PUT /admin/v2/namespaces/pulsar/system)"
		[[ $code =~ ^2 || $code == 409 ]] || die "creating namespace pulsar/system failed (HTTP $code)"
	fi
	parts="$(curl -s -m 10 "$ADMIN/admin/v2/persistent/pulsar/system/transaction_coordinator_assign/partitions" | sed -n 's/.*"partitions":\([0-9]*\).*/\1/p')"
	if [[ ${parts:-0} -lt 1 ]]; then
		code="$(admin PUT /admin/v2/persistent/pulsar/system/transaction_coordinator_assign/partitions 1)"
		[[ $code =~ ^2 || $code == 409 ]] || die "creating the transaction coordinator topic failed (HTTP $code)"
	fi
}

tail_log() {
	local f
	for f in "$OUT_FILE" "$LOG_FILE"; do
		[[ -s $f ]] || continue
		echo "----- last lines of $f -----" >&2
		tail -n 40 "$f" >&2
	done
}

do_up() {
	local pid code start now java_home jmaj
	start="$(date +%s.%N)"
	code="$(http_code "$ADMIN/admin/v2/brokers/health")"
	pid="$(our_pid)"
	if [[ $code == 200 ]] && healthy; then
		provision
		log "already running at $SERVICE / $ADMIN${pid:+ (pid $pid)}; nothing to do"
		return
	fi
	if [[ -z $pid && $code != 000 ]]; then
		die "something else answers on $ADMIN (HTTP $code) but it is not a healthy broker started by this script"
	fi
	if [[ -z $pid ]]; then
		if ss -ltnH 2>/dev/null | awk '{print $4}' | grep -qE "(^|[:.])$PORT\$"; then
			die "port $PORT is already in use by another process"
		fi
		[[ -x $PULSAR_DIR/bin/pulsar && -f $PULSAR_DIR/.magnetar-installed ]] || do_install
		java_home="$(find_java_home)"
		jmaj="$(java_major "$java_home/bin/java")"
		mkdir -p "$LOG_DIR" "$DATA_DIR/metadata" "$DATA_DIR/bookkeeper"
		write_conf
		: >"$OUT_FILE"
		# bin/pulsar execs java, so $! is the broker's own pid. setsid detaches it from make's
		# process group so Ctrl-C in the caller does not kill it. cwd is the data dir because
		# standalone writes a few relative paths.
		(
			exec 9>&- # do not hand the install/up lock to the broker
			cd "$DATA_DIR"
			export JAVA_HOME="$java_home"
			export PULSAR_MEM="-Xms$HEAP -Xmx$HEAP -XX:MaxDirectMemorySize=$HEAP"
			# G1 without AlwaysPreTouch: starts faster and touches less memory than the default ZGC.
			export PULSAR_GC="-XX:+UseG1GC -XX:MaxGCPauseMillis=50 -XX:+PerfDisableSharedMem -XX:ActiveProcessorCount=2"
			# No class-data-sharing archive: bin/pulsar puts the non-empty conf/ directory on the
			# class path, and the JVM refuses to dump an archive then.
			export PULSAR_LOG_DIR="$LOG_DIR"
			export PULSAR_LOG_APPENDER=RollingFile
			export PULSAR_LOG_FILE="$(basename "$LOG_FILE")"
			export PULSAR_STANDALONE_CONF="$CONF_FILE"
			exec setsid "$PULSAR_DIR/bin/pulsar" standalone \
				--no-functions-worker --no-stream-storage \
				--advertised-address 127.0.0.1 \
				--metadata-dir "$DATA_DIR/metadata" \
				--bookkeeper-dir "$DATA_DIR/bookkeeper" \
				</dev/null >>"$OUT_FILE" 2>&1
		) &
		pid=$!
		echo "$pid" >"$PID_FILE"
		printf 'version=%s\njava_home=%s\njava_major=%s\nstarted=%s\n' \
			"$VERSION" "$java_home" "$jmaj" "$(date -Is)" >"$INFO_FILE"
		log "starting Pulsar $VERSION on Java $jmaj (pid $pid, data $DATA_DIR, log $LOG_FILE)"
	else
		log "broker process $pid is already starting; waiting for it"
	fi
	local deadline=$(($(date +%s) + TIMEOUT))
	until healthy; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$PID_FILE"
			tail_log
			die "broker process $pid exited during start-up (see $OUT_FILE and $LOG_FILE)"
		fi
		if (($(date +%s) >= deadline)); then
			tail_log
			die "broker not healthy after ${TIMEOUT}s (pid $pid still running; see $LOG_FILE)"
		fi
		sleep 1
	done
	provision
	now="$(date +%s.%N)"
	log "up in $(awk -v a="$start" -v b="$now" 'BEGIN{printf "%.1f", b-a}')s: $SERVICE, $ADMIN (pid $pid); namespaces public/default, public/nexmark; transaction coordinator metadata present"
}

do_down() {
	local pid i
	pid="$(our_pid)"
	if [[ -z $pid ]]; then
		rm -f "$PID_FILE"
		if [[ "$(http_code "$ADMIN/admin/v2/brokers/health" 2)" != 000 ]]; then
			log "not started by this script (no live pid in $PID_FILE), but something answers on $ADMIN; left alone"
		else
			log "not running"
		fi
		return
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 30; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid still alive after 30s of SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 1
	fi
	rm -f "$PID_FILE"
	log "stopped (pid $pid)"
}

do_status() {
	local pid ver="" jv="" jh=""
	pid="$(our_pid)"
	if [[ -f $INFO_FILE ]]; then
		jh="$(sed -n 's/^java_home=//p' "$INFO_FILE")"
		jv="$(sed -n 's/^java_major=//p' "$INFO_FILE")"
	fi
	if healthy; then
		ver="$(curl -s -m 5 "$ADMIN/admin/v2/brokers/version" 2>/dev/null || true)"
		log "running${pid:+ (pid $pid)}: Pulsar ${ver:-?}${jv:+ on Java $jv ($jh)}, $SERVICE, $ADMIN, data $DATA_DIR"
		return 0
	fi
	if [[ -n $pid ]]; then
		log "starting or unhealthy (pid $pid alive, health check not ok); log $LOG_FILE"
		return 3
	fi
	log "not running (Pulsar $VERSION, installed: $([[ -f $PULSAR_DIR/.magnetar-installed ]] && echo yes || echo no), data $DATA_DIR)"
	return 3
}

do_wipe() {
	do_down
	case "$DATA_DIR" in
	"" | / | "$HOME" | "$HOME/") die "refusing to delete data dir '$DATA_DIR'" ;;
	esac
	rm -rf "$DATA_DIR"
	log "wiped $DATA_DIR"
}

case "${1:-}" in
install) with_lock do_install ;;
up) with_lock do_up ;;
down) with_lock do_down ;;
status) do_status ;;
wipe) with_lock do_wipe ;;
*)
	echo "usage: $0 install|up|down|status|wipe" >&2
	exit 2
	;;
esac
