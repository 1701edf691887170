/**
 * The shell script that runs as pid 1 of the sandbox's fresh namespaces (mount, pid, network, ipc, uts), still
 * root. It builds a private root on a size-capped tmpfs (read-only binds of the system directories, a fresh /proc,
 * a minimal /dev, the run's files in /work), then starts the program chrooted there, with rlimits, as an
 * unprivileged uid without capabilities, with an empty environment. It reports on fd 3: `ready` just before the
 * program starts, `exit <status>` when it ends, so that a setup failure is never mistaken for the program's.
 *
 * Inputs come in the environment of this script (the program never sees them):
 *   SANDBOX_ROOT     empty directory to mount the tmpfs root on (invisible outside the mount namespace)
 *   SANDBOX_SRC      directory whose files are copied into /work
 *   SANDBOX_UID      uid and gid the program runs as
 *   SANDBOX_DISK_MB  tmpfs size
 *   SANDBOX_BINDS    newline-separated absolute paths to bind read-only (symlinks are recreated as symlinks)
 *   SANDBOX_CGROUPS  newline-separated cgroup.procs files to join first (may be empty)
 *   SANDBOX_PRLIMIT  newline-separated prlimit options
 *   SANDBOX_PATH     PATH for the program
 *   SANDBOX_PROGRAM_ENV  newline-separated NAME=value pairs for the program (may be empty)
 *   SANDBOX_ENV, SANDBOX_PRLIMIT_BIN, SANDBOX_SETPRIV_BIN  absolute paths of env, prlimit, setpriv
 * and the program's argv as "$@".
 */
export const SETUP_SCRIPT = String.raw`
set -eu
umask 022
nl='
'
IFS=$nl
for f in $SANDBOX_CGROUPS; do echo $$ > "$f"; done
root=$SANDBOX_ROOT
mount -t tmpfs -o size="$SANDBOX_DISK_MB"m,mode=0755,nosuid,nodev flywheel-sandbox "$root"
for d in $SANDBOX_BINDS; do
  if [ -L "$d" ]; then
    mkdir -p "$root$(dirname "$d")"
    ln -s "$(readlink "$d")" "$root$d"
  elif [ -d "$d" ]; then
    mkdir -p "$root$d"
    mount --bind "$d" "$root$d"
    mount -o remount,bind,ro,nosuid,nodev "$root$d"
  fi
done
mkdir -p "$root/dev" "$root/proc" "$root/work" "$root/tmp" "$root/dev/shm"
for n in null zero full random urandom; do
  : > "$root/dev/$n"
  mount --bind "/dev/$n" "$root/dev/$n"
done
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
chmod 1777 "$root/tmp" "$root/dev/shm"
mount -t proc -o nosuid,nodev,noexec,hidepid=2 proc "$root/proc"
cp -R "$SANDBOX_SRC/." "$root/work/"
chown -R "$SANDBOX_UID:$SANDBOX_UID" "$root/work"
chmod 0700 "$root/work"
echo ready >&3
set +e
chroot "$root" "$SANDBOX_ENV" -i -C /work "PATH=$SANDBOX_PATH" HOME=/work TMPDIR=/tmp LANG=C.UTF-8 $SANDBOX_PROGRAM_ENV \
  "$SANDBOX_PRLIMIT_BIN" $SANDBOX_PRLIMIT -- \
  "$SANDBOX_SETPRIV_BIN" --reuid="$SANDBOX_UID" --regid="$SANDBOX_UID" --clear-groups --no-new-privs \
  --inh-caps=-all --bounding-set=-all -- "$@" 3>&-
status=$?
echo "exit $status" >&3
exit 0
`;
