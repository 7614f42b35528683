#!/usr/bin/env bash
# A one-node SLURM cluster with accounting on this machine, for the SLURM smoke test (`make test-slurm`):
# munge, MariaDB, slurmdbd, slurmctld and slurmd from Debian's packages, run as root without systemd.
#
#   slurm_cluster.sh start    install what is missing (apt-get, as root), start every daemon, wait until
#                             the node is idle and sacct answers; writes $DIR/env (source it: SLURM_CONF)
#   slurm_cluster.sh stop     stop every daemon this script started, by the PIDs it recorded
#   slurm_cluster.sh status   print sinfo and the recorded PIDs; exit 0 when the cluster answers
#
# Everything (configuration, state, spool, logs, PID files, the database files) lives in
# $ADVDIFF_SLURM_DIR (default /tmp/advdiff-slurm). Under /etc only munge's key (Debian's package makes
# it) and, when no other cluster's file is there, a link /etc/slurm/slurm.conf (removed by stop). Partitions: `cpu` (default) and `gpu`, on the same node; the cluster
# is called `advdiff`, the account `advdiff`.
set -u
# shellcheck source=workflow/scripts/apt_install.sh
. "$(dirname "$0")/apt_install.sh"

DIR="${ADVDIFF_SLURM_DIR:-/tmp/advdiff-slurm}"
NAME=slurm_cluster
CLUSTER=advdiff
PKGS="slurm-wlm slurm-client munge slurmdbd mariadb-server"
NODE="$(hostname -s)"
DB_SOCKET="$DIR/mysql/mysqld.sock"
DB_PASS=advdiff-local-only # the database listens on 127.0.0.1 and a socket in $DIR only

say() { echo "$NAME: $*"; }
die() {
    echo "$NAME: $*" >&2
    for log in "$DIR"/log/*.log "$DIR"/mysql/mysqld.log; do
        [ -s "$log" ] && { echo "--- last lines of $log" >&2; tail -n 15 "$log" >&2; }
    done
    exit 1
}

have_slurm() {
    local c
    for c in sbatch sacct sacctmgr sinfo slurmctld slurmd slurmdbd munged mysqld_safe mysql; do
        command -v "$c" >/dev/null 2>&1 || return 1
    done
}

fail_hint() {
    echo "$NAME: as root on Debian/Ubuntu run: apt-get update && apt-get install -y $PKGS"
    echo "$NAME: without a cluster the SLURM test skips (it says why)"
}

wait_for() { # wait_for <seconds> <what> <command...>: poll every half second
    local limit=$1 what=$2 i
    shift 2
    for ((i = 0; i < limit * 2; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    die "$what did not come up within ${limit} s"
}

record_pid() { echo "$2" >"$DIR/pids/$1"; }

memory_mb() { # the node's RealMemory: 90 % of this machine's memory, in MB
    awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo
}

write_configs() {
    local cpus
    cpus=$(nproc)
    cat >"$DIR/etc/slurm.conf" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/pids/slurmctld.pid
SlurmdPidFile=$DIR/pids/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPort=${ADVDIFF_SLURMCTLD_PORT:-6817}
SlurmdPort=${ADVDIFF_SLURMD_PORT:-6818}
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=${ADVDIFF_SLURMDBD_PORT:-6819}
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=2
JobCompType=jobcomp/none
NodeName=$NODE CPUs=$cpus RealMemory=$(memory_mb) State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
    cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=${ADVDIFF_SLURMDBD_PORT:-6819}
SlurmUser=root
PidFile=$DIR/pids/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=${ADVDIFF_MYSQL_PORT:-3306}
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
    chmod 600 "$DIR/etc/slurmdbd.conf"
    # Job steps (srun inside a batch job) do not see SLURM_CONF: they read the default path, so link it
    # there unless a slurm.conf of another cluster is in place.
    if [ ! -e /etc/slurm/slurm.conf ] || [ "$(readlink /etc/slurm/slurm.conf)" = "$DIR/etc/slurm.conf" ]; then
        mkdir -p /etc/slurm
        ln -sfn "$DIR/etc/slurm.conf" /etc/slurm/slurm.conf
    else
        say "warning: /etc/slurm/slurm.conf belongs to another cluster; job steps may not find this one"
    fi
    cat >"$DIR/env" <<EOF
export SLURM_CONF=$DIR/etc/slurm.conf
EOF
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        say "munged already answers; using it"
        return
    fi
    local d
    for d in /run/munge /var/log/munge /var/lib/munge /etc/munge; do
        mkdir -p "$d"
        chown munge:munge "$d"
    done
    chmod 0700 /etc/munge /var/lib/munge /var/log/munge
    chmod 0755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        say "creating munge's key"
        mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null ||
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    runuser -u munge -- munged || die "munged did not start"
    wait_for 20 munged bash -c 'munge -n | unmunge'
    record_pid munged "$(cat /run/munge/munged.pid)"
}

mysql_root() { mysql --protocol=socket --socket="$DB_SOCKET" -uroot "$@"; }

start_mariadb() {
    mkdir -p "$DIR/mysql/data" /run/mysqld
    chown -R mysql:mysql "$DIR/mysql" /run/mysqld
    if [ ! -d "$DIR/mysql/data/mysql" ]; then
        say "initialising the accounting database in $DIR/mysql/data"
        mariadb-install-db --user=mysql --datadir="$DIR/mysql/data" --auth-root-authentication-method=socket \
            >"$DIR/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed (see $DIR/log/mariadb-install.log)"
    fi
    setsid mysqld_safe --user=mysql --datadir="$DIR/mysql/data" --socket="$DB_SOCKET" \
        --pid-file="$DIR/mysql/mysqld.pid" --bind-address=127.0.0.1 --port="${ADVDIFF_MYSQL_PORT:-3306}" \
        --log-error="$DIR/mysql/mysqld.log" >/dev/null 2>&1 & # files mysqld writes: in its own folder
    record_pid mysqld_safe $!
    wait_for 60 "MariaDB" mysql_root -e "select 1"
    mysql_root <<EOF || die "could not create the accounting database"
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
FLUSH PRIVILEGES;
EOF
}

start() {
    apt_install "$NAME" have_slurm $PKGS
    if status >/dev/null 2>&1; then
        say "a cluster started by this script already answers in $DIR; nothing to do"
        return 0
    fi
    stop >/dev/null 2>&1
    mkdir -p "$DIR"/{etc,state,spool,log,pids}
    write_configs
    export SLURM_CONF="$DIR/etc/slurm.conf"
    start_munge
    start_mariadb
    slurmdbd || die "slurmdbd did not start"
    wait_for 60 slurmdbd sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1
    sacctmgr -i add account "$CLUSTER" Description=advdiff Organization=advdiff >/dev/null 2>&1
    sacctmgr -i add user root Account="$CLUSTER" DefaultAccount="$CLUSTER" >/dev/null 2>&1
    slurmctld || die "slurmctld did not start"
    wait_for 30 slurmctld scontrol ping
    slurmd || die "slurmd did not start"
    wait_for 60 "the node $NODE" bash -c "sinfo -h -N -o '%t' | grep -qE '^(idle|mix|alloc)'"
    wait_for 30 sacct sacct -n -X
    say "cluster $CLUSTER up: partitions $(sinfo -h -o '%P' | tr '\n' ' ')node $NODE ($(nproc) CPUs)"
    say "use it with: source $DIR/env"
}

stop() {
    local name pid
    for name in slurmd slurmctld slurmdbd; do
        pid=$(cat "$DIR/pids/$name.pid" 2>/dev/null) && kill "$pid" 2>/dev/null && say "stopped $name ($pid)"
    done
    pid=$(cat "$DIR/pids/mysqld_safe" 2>/dev/null) && kill "$pid" 2>/dev/null
    pid=$(cat "$DIR/mysql/mysqld.pid" 2>/dev/null) && kill "$pid" 2>/dev/null && say "stopped mysqld ($pid)"
    pid=$(cat "$DIR/pids/munged" 2>/dev/null) && kill "$pid" 2>/dev/null && say "stopped munged ($pid)"
    rm -f "$DIR"/pids/*
    if [ "$(readlink /etc/slurm/slurm.conf 2>/dev/null)" = "$DIR/etc/slurm.conf" ]; then
        rm -f /etc/slurm/slurm.conf
    fi
    sleep 1
}

status() {
    [ -f "$DIR/env" ] || { echo "$NAME: no cluster configured in $DIR"; return 1; }
    # shellcheck disable=SC1091
    . "$DIR/env"
    sinfo && sacct -n -X >/dev/null && head -n 20 "$DIR"/pids/* 2>/dev/null
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
