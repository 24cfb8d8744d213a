#!/usr/bin/env bash
# Stop the cluster started by .ci/slurm_up.sh: each daemon by the PID it wrote, in reverse order
# (slurmd, slurmctld, slurmdbd, mariadbd, munged), waiting up to 20 s for each to exit.
# Keeps the state folder (munge key, database) so a later start takes ~2 s; pass --purge to delete it.
set -uo pipefail

R="${PDISTILL_SLURM_DIR:-/tmp/pdistill-slurm}"
status=0
stop() {
    local name="$1" pidfile="$2" pid
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile" 2>/dev/null)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm_down: $name (pid $pid) ignored SIGTERM for 20 s; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null
            status=1
        fi
    fi
    rm -f "$pidfile"
}
stop slurmd "$R/run/slurmd.pid"
stop slurmctld "$R/run/slurmctld.pid"
stop slurmdbd "$R/run/slurmdbd.pid"
stop mariadbd "$R/run/mysqld.pid"
stop munged "$R/munge/munged.pid"
if [ "${1:-}" = "--purge" ]; then
    rm -rf "$R"
fi
echo "slurm_down: stopped the daemons in $R"
exit "$status"
