# Shared by loadtest/servers/ejabberd and loadtest/servers/prosody. Sourced, not run.
#
# Every server runs from a private directory under $STARLING_BENCH_DIR (/tmp/starling-bench)
# on its own loopback ports, never from the system configuration or the system service.

# shellcheck source=../../scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

BENCH_DIR=$(realpath -m "${STARLING_BENCH_DIR:-/tmp/starling-bench}")

log() { echo "$NAME: $*" >&2; }
die() {
    log "$*"
    exit 1
}

need_port() {
    [[ $1 =~ ^[0-9]+$ ]] && (($1 > 0 && $1 < 65536)) || die "not a port: '$1'"
}

# Whether `pid` is a live process (a zombie counts as gone).
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $state != Z* ]]
}

# The pid in a pidfile, if the file exists and the process is live and runs `comm`.
live_pid() {
    local file=$1 comm=$2 pid
    [ -f "$file" ] || return 1
    pid=$(head -n 1 "$file" 2>/dev/null | tr -dc 0-9) || return 1
    [ -n "$pid" ] || return 1
    alive "$pid" || return 1
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm"* ]] || return 1
    echo "$pid"
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

need_free_port() {
    if port_open "$1"; then
        die "port 127.0.0.1:$1 ($2) is taken by another process; choose another with $3"
    fi
}

# Waits until 127.0.0.1:`port` accepts, while `pidfile` names a live `comm` process.
wait_port() {
    local port=$1 pidfile=$2 comm=$3 logfile=$4 i
    for ((i = 0; i < 1200; i++)); do
        if port_open "$port" && live_pid "$pidfile" "$comm" >/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    log "not accepting on 127.0.0.1:$port after 60 s; last lines of $logfile:"
    tail -n 20 "$logfile" >&2 2>/dev/null || true
    return 1
}

# Waits until `pid` has exited; SIGTERM after `grace` seconds, SIGKILL 10 s later.
stop_pid() {
    local pid=$1 grace=$2 i
    for ((i = 0; i < grace * 20; i++)); do
        alive "$pid" || return 0
        sleep 0.05
    done
    log "pid $pid still running after ${grace}s: SIGTERM"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        alive "$pid" || return 0
        sleep 0.05
    done
    log "pid $pid still running: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    ! alive "$pid"
}

# A self-signed ECDSA P-256 certificate for `localhost`, made once per server directory.
# It is not a CA certificate (openssl's default for -x509 is), so that a client given it as
# its one trust anchor (`starling-loadtest --ca`) accepts it as the server's own certificate;
# one made as a CA by an earlier version of this script is made again.
ensure_cert() {
    local dir=$1
    command -v openssl >/dev/null || ensure_debian_packages openssl
    if [ -s "$dir/cert.pem" ] && [ -s "$dir/key.pem" ] &&
        ! openssl x509 -in "$dir/cert.pem" -noout -text | grep -q 'CA:TRUE'; then
        return 0
    fi
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
        -addext "basicConstraints=critical,CA:FALSE" \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null ||
        die "openssl could not make a certificate in $dir"
}

# A contact given as `name` (on `domain`) or as `name@host`.
contact_jid() {
    local contact=$1 domain=$2
    if [[ $contact == *@* ]]; then echo "$contact"; else echo "$contact@$domain"; fi
}
