#!/usr/bin/env bash
# Start a throwaway single-node Slurm cluster (munge, MariaDB, slurmdbd, slurmctld, slurmd) for the tests.
#
# Recipe and pitfalls: SLURM.md (shared notes). Idempotent: installs the Debian packages only when
# missing, reuses the munge key and database from an earlier start, and does nothing when the
# cluster already answers. State lives in $PDISTILL_SLURM_DIR (default /tmp/pdistill-slurm); clients
# need `export SLURM_CONF=$PDISTILL_SLURM_DIR/etc/slurm.conf`. Ports: 6817, 6818, 6819, 3306.
# Stop it with .ci/slurm_down.sh (kills each daemon by the PID it wrote).
# Needs root (the CI container runs as root; SlurmUser is root).
set -euo pipefail

R="${PDISTILL_SLURM_DIR:-/tmp/pdistill-slurm}"
export SLURM_CONF="$R/etc/slurm.conf"
SOCK="$R/munge/munge.socket.2"

die() {
    echo "slurm_up: ERROR: $*" >&2
    for f in "$R"/log/*; do
        [ -f "$f" ] && { echo "---- tail of $f" >&2; tail -n 15 "$f" >&2; }
    done
    exit 1
}

# poll CMD until it succeeds, at most SECONDS seconds (every client call gets its own timeout).
poll() {
    local seconds="$1" what="$2"; shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || die "$what did not come up within ${seconds}s"
        sleep 0.5
    done
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

[ "$(id -u)" = 0 ] || die "must run as root (SlurmUser=root; the CI container runs as root)."

# 1. Packages, only what is missing (~45 s cold).
need=0
for b in slurmctld slurmd slurmdbd sinfo munged mariadbd mariadb-install-db; do
    command -v "$b" >/dev/null 2>&1 || need=1
done
if [ "$need" = 1 ]; then
    echo "slurm_up: installing Debian packages (slurmctld slurmd slurm-client slurmdbd munge mariadb-server)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq || die "apt-get update failed"
    timeout 900 apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client slurmdbd munge mariadb-server >/dev/null || die "apt-get install failed"
fi

# Already up? (all five daemons alive and sinfo answers)
if alive "$R/munge/munged.pid" && alive "$R/run/mysqld.pid" && alive "$R/run/slurmdbd.pid" \
    && alive "$R/run/slurmctld.pid" && alive "$R/run/slurmd.pid" \
    && timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mix|alloc'; then
    echo "slurm_up: cluster already running; export SLURM_CONF=$SLURM_CONF"
    exit 0
fi
for pp in 6817:slurmctld 6818:slurmd 6819:slurmdbd 3306:mysqld; do
    p="${pp%%:*}"
    alive "$R/run/${pp##*:}.pid" && continue  # ours, from an earlier partial start: reused below
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        die "port $p is already in use by another process; stop it (or run .ci/slurm_down.sh)"
    fi
done

# 2. Layout.
mkdir -p "$R"/{etc,munge,state,spool/slurmd,log,run,mysql}
chmod 711 "$R/munge"

# 3. munge (key kept across restarts).
if [ ! -s "$R/munge/munge.key" ]; then
    head -c 1024 /dev/urandom > "$R/munge/munge.key"
fi
chmod 400 "$R/munge/munge.key"
if ! alive "$R/munge/munged.pid"; then
    rm -f "$SOCK" "$SOCK.lock" "$R/munge/munged.pid"
    munged --key-file="$R/munge/munge.key" --socket="$SOCK" --pid-file="$R/munge/munged.pid" \
        --log-file="$R/log/munged.log" --seed-file="$R/munge/munged.seed" || die "munged failed to start"
fi
poll 20 munged bash -c "timeout 3 munge -S '$SOCK' -n | timeout 3 unmunge -S '$SOCK'"

# 4. MariaDB, only so that slurmdbd (and so sacct, which submitit needs for killed jobs) works.
if [ ! -d "$R/mysql/mysql" ]; then
    timeout 120 mariadb-install-db --no-defaults --datadir="$R/mysql" --user=root --skip-test-db \
        --auth-root-authentication-method=socket >"$R/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed"
fi
if ! alive "$R/run/mysqld.pid"; then
    setsid mariadbd --no-defaults --datadir="$R/mysql" --socket="$R/run/mysqld.sock" \
        --pid-file="$R/run/mysqld.pid" --port=3306 --bind-address=127.0.0.1 --user=root \
        --innodb-buffer-pool-size=64M --log-error="$R/log/mariadb.err" </dev/null >/dev/null 2>&1 &
fi
poll 60 mariadbd timeout 5 mariadb-admin --no-defaults -S "$R/run/mysqld.sock" ping
poll 20 "mariadbd pid file" test -s "$R/run/mysqld.pid"
timeout 20 mariadb --no-defaults -S "$R/run/mysqld.sock" -e \
    "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" \
    || die "could not create the slurm database user"

# 5./6. Configs (node name fixed to localhost; CPUs and memory from this machine).
CPUS="$(nproc)"
MEM_KB="$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
MEM_MB=$((MEM_KB * 9 / 10 / 1024))
SLURMD_MEM="$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' | head -n1)"
if [ -n "$SLURMD_MEM" ] && [ "$SLURMD_MEM" -lt "$MEM_MB" ]; then MEM_MB="$SLURMD_MEM"; fi
cat >"$R/etc/slurm.conf" <<EOF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$R/state
SlurmdSpoolDir=$R/spool/slurmd
SlurmctldPidFile=$R/run/slurmctld.pid
SlurmdPidFile=$R/run/slurmd.pid
SlurmctldLogFile=$R/log/slurmctld.log
SlurmdLogFile=$R/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStoragePass=$SOCK
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
KillWait=5
MinJobAge=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$R/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=localhost
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
LogFile=$R/log/slurmdbd.log
PidFile=$R/run/slurmdbd.pid
EOF
chmod 600 "$R/etc/slurmdbd.conf"
chown root "$R/etc/slurmdbd.conf"

# 7. Daemons, in order: slurmdbd, slurmctld, slurmd.
alive "$R/run/slurmdbd.pid" || slurmdbd || die "slurmdbd failed to start"
poll 60 "slurmdbd (sacctmgr show cluster)" timeout 5 sacctmgr -n show cluster
alive "$R/run/slurmctld.pid" || slurmctld -f "$SLURM_CONF" || die "slurmctld failed to start"
alive "$R/run/slurmd.pid" || slurmd -f "$SLURM_CONF" -N localhost || die "slurmd failed to start"
idle() { timeout 5 sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; }
poll 60 "the node (sinfo shows idle)" idle

# 8. Smoke test: one tiny job through the scheduler.
timeout 30 srun -t 1 hostname >/dev/null 2>&1 || die "srun hostname failed on the fresh cluster"
echo "slurm_up: cluster up in $R (${SECONDS}s); export SLURM_CONF=$SLURM_CONF"
