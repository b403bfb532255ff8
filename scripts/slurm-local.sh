#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, kept entirely under DIR: its own slurm.conf, state and
# spool folders, pid and log files, and its own munged (key, socket, pid, log, seed), on free
# ports found at start. It never reads or changes /etc/slurm or the system's munge, so it can run
# beside them. For tests and for trying `annbench slurm submit` without a cluster (docs/slurm.md).
#   usage: scripts/slurm-local.sh start DIR   then: export SLURM_CONF=DIR/slurm.conf (printed)
#          scripts/slurm-local.sh stop DIR
# Needs slurmctld, slurmd (Debian: slurmctld, slurmd, slurm-client) and munged (munge); run as
# root, since slurmd starts jobs as their submitting user.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
action=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
conf=$dir/slurm.conf

fail() {
  echo "slurm-local: $*" >&2
  exit 1
}

# A TCP port nothing listens on now (the kernel's choice of a free ephemeral port).
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Kills the process named in a pid file and waits up to 10 s for it to exit.
stop_pid_file() {
  local file=$1 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if kill "$pid" 2> /dev/null; then
    for _ in $(seq 100); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then
      echo "slurm-local: pid $pid ($file) ignored SIGTERM; killing it" >&2
      kill -9 "$pid" 2> /dev/null || true
    fi
  fi
  rm -f "$file"
}

show_logs() {
  local log
  for log in "$dir"/log/*.log; do
    [ -e "$log" ] || continue
    echo "--- $log (last 30 lines)" >&2
    tail -n 30 "$log" >&2
  done
}

stop() {
  # slurmd first, so that no job step is left without its daemon; munged last.
  stop_pid_file "$dir/run/slurmd.pid"
  stop_pid_file "$dir/run/slurmctld.pid"
  stop_pid_file "$dir/run/munged.pid"
}

start() {
  local name cpus memory sockets cores threads ctld_port slurmd_port
  for tool in slurmctld slurmd munged sinfo; do
    command -v "$tool" > /dev/null || fail "$tool is not installed (Debian: slurmctld slurmd slurm-client munge)"
  done
  [ "$(id -u)" -eq 0 ] || fail "must run as root (slurmd runs jobs as their submitting user)"
  if [ -s "$dir/run/slurmctld.pid" ] && kill -0 "$(cat "$dir/run/slurmctld.pid")" 2> /dev/null; then
    fail "a cluster is already running under $dir (stop it first)"
  fi
  mkdir -p "$dir/state" "$dir/spool" "$dir/run" "$dir/log" "$dir/munge"
  chmod 700 "$dir/munge"

  # munged refuses keys and sockets other users could touch; as root it also wants --force
  # because root owning the key is not the munge user it expects.
  if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  fi
  chmod 600 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munge.seed" ||
    { show_logs; fail "munged did not start"; }

  name=$(hostname -s)
  # This machine's CPUs and memory as slurmd itself measures them, so the node is not drained
  # for having less than configured.
  read -r cpus sockets cores threads memory < <(slurmd -C | awk '
    /^NodeName=/ { for (i = 1; i <= NF; ++i) { split($i, kv, "="); v[kv[1]] = kv[2] }
                   print v["CPUs"], v["SocketsPerBoard"], v["CoresPerSocket"], v["ThreadsPerCore"],
                         v["RealMemory"] }')
  [ -n "${memory:-}" ] || fail "could not read this machine's CPUs and memory from 'slurmd -C'"
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

  : > "$dir/plugstack.conf"
  cat > "$conf" << EOF
# Written by scripts/slurm-local.sh: a one-node cluster on localhost, all files under $dir.
ClusterName=annbench-local
SlurmctldHost=$name(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
# No cgroups: processes tracked by parent pid, no task confinement, no accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Schedule (and release dependencies) within seconds rather than the default minute.
SchedulerParameters=sched_interval=2,sched_min_interval=0
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
NodeName=$name NodeAddr=127.0.0.1 CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$name Default=YES MaxTime=INFINITE State=UP
EOF

  export SLURM_CONF=$conf
  # -i: ignore any state from an earlier start (its ports and jobs are gone).
  slurmctld -i -f "$conf" || { show_logs; stop; fail "slurmctld did not start"; }
  slurmd -f "$conf" || { show_logs; stop; fail "slurmd did not start"; }

  local state=""
  for _ in $(seq 120); do
    state=$(sinfo -h -n "$name" -o '%T' 2> /dev/null || true)
    [ "$state" = "idle" ] && break
    sleep 0.5
  done
  if [ "$state" != "idle" ]; then
    echo "slurm-local: node $name is '${state:-unreachable}' after 60 s, not idle" >&2
    show_logs
    stop
    exit 1
  fi
  echo "export SLURM_CONF=$conf"
}

case $action in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
