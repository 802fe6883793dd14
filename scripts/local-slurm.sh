#!/usr/bin/env bash
# A one-node Slurm on this machine, for trying and testing the Slurm launcher:
#
#   scripts/local-slurm.sh start    # munged, slurmctld, slurmd; prints `export SLURM_CONF=...`
#   scripts/local-slurm.sh status   # running or not (exit 0 / 1), and sinfo
#   scripts/local-slurm.sh stop     # cancels its jobs, stops exactly the daemons start started
#
# Debian's slurm-wlm and munge (apt-get install -y slurm-wlm munge); run as root (slurmd
# must be). Everything lives in $EVOTRANS_LOCAL_SLURM (default /tmp/evotrans-local-slurm):
# config, munge key and socket, state, logs, pid files. No accounting (sacct fails; the
# launcher asks squeue and scontrol instead), ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none, SelectType=select/cons_tres with CPUs as the consumable resource,
# this machine's CPUs and memory from `slurmd -C`. Clients need SLURM_CONF=$DIR/slurm.conf.
set -euo pipefail

DIR=${EVOTRANS_LOCAL_SLURM:-/tmp/evotrans-local-slurm}
CTLD_PORT=${EVOTRANS_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${EVOTRANS_SLURMD_PORT:-6818}
export SLURM_CONF="$DIR/slurm.conf"

die() { echo "local-slurm: $*" >&2; exit 2; }

# pid of a daemon start started, if it is still that process (its command line names $DIR)
alive() {
    local file="$DIR/$1.pid" pid
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR" || return 1
    echo "$pid"
}

launch() {  # launch NAME CMD...: a foreground daemon in the background, its pid recorded
    local name=$1
    shift
    setsid "$@" >>"$DIR/$name.out" 2>&1 </dev/null &
    echo $! >"$DIR/$name.pid"
}

wait_for() {  # wait_for SECONDS WHAT CMD...
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 5))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    die "$what did not come up in ${seconds} s (logs in $DIR)"
}

start() {
    for tool in munged mungekey slurmctld slurmd sbatch; do
        command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y slurm-wlm munge)"
    done
    [[ $(id -u) == 0 ]] || die "must run as root (slurmd runs jobs as their users)"
    if alive slurmctld >/dev/null && alive slurmd >/dev/null && alive munged >/dev/null; then
        echo "export SLURM_CONF=$SLURM_CONF"
        return 0
    fi
    stop_daemons
    mkdir -p "$DIR"/{munge,state,spool}
    chmod 700 "$DIR/munge"
    [[ -f $DIR/munge/munge.key ]] || mungekey --create --keyfile "$DIR/munge/munge.key" 2>/dev/null \
        || dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 600 "$DIR/munge/munge.key"
    local node
    node=$(slurmd -C | head -n 1)
    [[ $node == NodeName=* ]] || die "slurmd -C gave no node line: $node"
    local host=${node%% *}
    host=${host#NodeName=}
    cat >"$SLURM_CONF" <<EOF
# written by scripts/local-slurm.sh: a one-node cluster in $DIR
ClusterName=evotrans-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$DIR/slurmctld.daemon.pid
SlurmdPidFile=$DIR/slurmd.daemon.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SwitchType=switch/none
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=5
MinJobAge=3600
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
$node State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    launch munged munged --foreground --force --socket="$DIR/munge/munge.socket" \
        --key-file="$DIR/munge/munge.key" --pid-file="$DIR/munge/munged.daemon.pid" \
        --log-file="$DIR/munged.log" --seed-file="$DIR/munge/munged.seed"
    wait_for 10 munged test -S "$DIR/munge/munge.socket"
    launch slurmctld slurmctld -D -i -f "$SLURM_CONF"
    wait_for 30 slurmctld scontrol ping
    launch slurmd slurmd -D -f "$SLURM_CONF"
    wait_for 30 "slurmd (node idle)" node_idle
    echo "export SLURM_CONF=$SLURM_CONF"
}

node_idle() {
    sinfo -h -N -o %T | grep -qE '^(idle|mixed|allocated)'
}

stop_daemons() {
    local name pid
    for name in slurmd slurmctld munged; do
        pid=$(alive "$name") || { rm -f "$DIR/$name.pid"; continue; }
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            [[ -d /proc/$pid ]] || break
            sleep 0.2
        done
        [[ -d /proc/$pid ]] && kill -KILL "$pid" 2>/dev/null
        rm -f "$DIR/$name.pid"
    done
}

stop() {
    if alive slurmctld >/dev/null; then
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            # shellcheck disable=SC2086  # job ids, one word each
            scancel $jobs 2>/dev/null || true
            for _ in $(seq 50); do
                [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
                sleep 0.2
            done
        fi
    fi
    stop_daemons
    echo "local-slurm: stopped"
}

status() {
    local name pid code=0
    for name in munged slurmctld slurmd; do
        if pid=$(alive "$name"); then
            echo "$name: running (pid $pid)"
        else
            echo "$name: not running"
            code=1
        fi
    done
    if [[ $code == 0 ]]; then
        echo "export SLURM_CONF=$SLURM_CONF"
        sinfo -N 2>/dev/null || code=1
    fi
    return $code
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: $0 start|stop|status" ;;
esac
