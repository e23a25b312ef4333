#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the end-to-end cluster tests
# (and for trying `ffn-render submit --slurm` without a cluster).
#
#   scripts/slurm_localhost.sh install     apt-get install slurm-wlm and munge (if missing)
#   scripts/slurm_localhost.sh start DIR   write configs, start munged/slurmctld/slurmd under DIR,
#                                          wait until the node is idle; prints `export SLURM_CONF=...`
#   scripts/slurm_localhost.sh stop DIR    stop the daemons started under DIR, by their pid files
#
# Everything lives under DIR (configs, munge key and socket, state, spool, logs,
# pid files); nothing under /etc, /var or /run is touched, and no systemd unit
# is used. The node is named after `hostname -s`, with this machine's CPU count
# and memory; process tracking is proctrack/linuxproc and there is no task
# plugin, so no cgroups are needed. Daemons run as the calling user (root in CI).
set -euo pipefail

die() { echo "slurm_localhost: $*" >&2; exit 1; }

install_packages() {
  local missing=()
  for cmd in munged slurmctld slurmd sbatch; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "slurm_localhost: slurm-wlm and munge already installed"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install slurm-wlm and munge yourself"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # Package scripts must not start the system's own slurm/munge services.
  if ! apt-cache policy slurm-wlm 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    $sudo apt-get update -qq || die "apt-get update failed"
  fi
  $sudo apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
    || die "apt-get install slurm-wlm munge failed"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Stop the daemon whose pid file is $1 (TERM, then KILL after 10 s); quiet if it is not running.
stop_pidfile() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  rm -f "$pidfile"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

stop_cluster() {
  local dir=$1
  [ -d "$dir" ] || return 0
  # Cancel what is still queued or running first: job steps (slurmstepd) outlive a stopped slurmd.
  if [ -f "$dir/run/slurmctld.pid" ] && command -v scancel >/dev/null 2>&1; then
    export SLURM_CONF="$dir/etc/slurm.conf"
    scancel --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 100); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  # slurmd next, so that it does not try to report to a stopped controller; munged last.
  stop_pidfile "$dir/run/slurmd.pid"
  stop_pidfile "$dir/run/slurmctld.pid"
  stop_pidfile "$dir/run/munged.pid"
}

# Show the last lines of each daemon log, for a failure message.
show_logs() {
  local dir=$1 log
  for log in "$dir"/log/*.log; do
    [ -f "$log" ] || continue
    echo "--- $log" >&2
    tail -n 15 "$log" >&2
  done
}

start_cluster() {
  local dir
  mkdir -p "$1"
  dir=$(cd "$1" && pwd)
  for cmd in munged slurmctld slurmd sinfo; do
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found; run: $0 install"
  done
  mkdir -p "$dir"/{etc,run,log,state,spool,munge}
  chmod 700 "$dir/munge"

  local node cpus mem_mb user ctld_port slurmd_port
  node=$(hostname -s)
  cpus=$(nproc --all)
  # Leave 10% of the memory to the system, as Slurm would refuse a node claiming more than it has.
  mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  user=$(id -un)
  ctld_port=$(free_port)
  slurmd_port=$(free_port)

  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"

  cat >"$dir/etc/slurm.conf" <<EOF
# Written by scripts/slurm_localhost.sh: a one-node test cluster under $dir
ClusterName=ffnlocal
SlurmctldHost=$node(127.0.0.1)
SlurmUser=$user
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
# Short waits so that tests see time limits and cancellations promptly.
KillWait=5
OverTimeLimit=0
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  : >"$dir/etc/cgroup.conf"
  export SLURM_CONF="$dir/etc/slurm.conf"

  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    || { show_logs "$dir"; die "munged failed to start"; }
  # -c: start from a clean state (no jobs or node states from an earlier run of this folder).
  slurmctld -c -f "$SLURM_CONF" || { show_logs "$dir"; stop_cluster "$dir"; die "slurmctld failed to start"; }
  slurmd -N "$node" -f "$SLURM_CONF" || { show_logs "$dir"; stop_cluster "$dir"; die "slurmd failed to start"; }

  local state=""
  for _ in $(seq 120); do
    state=$(sinfo -h -n "$node" -o '%t' 2>/dev/null || true)
    [ "$state" = "idle" ] && break
    sleep 0.5
  done
  if [ "$state" != "idle" ]; then
    show_logs "$dir"
    stop_cluster "$dir"
    die "node $node did not become idle within 60 s (state: '${state:-none}')"
  fi
  echo "export SLURM_CONF=$SLURM_CONF"
}

case "${1:-}" in
  install) install_packages ;;
  start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start_cluster "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop_cluster "$2" ;;
  *) die "usage: $0 install | start DIR | stop DIR" ;;
esac
