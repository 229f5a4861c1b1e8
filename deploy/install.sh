#!/usr/bin/env bash
# Install the Walking NAS hub as a systemd service run by its own system user.
#
#   sudo deploy/install.sh                  install or upgrade (a second run changes nothing)
#   sudo deploy/install.sh --uninstall      remove the service and the program, keep the data
#   sudo deploy/install.sh --uninstall --purge-data   also delete the data and the user
#
# Lays out: user and group walking-nas; /opt/walking-nas/venv (a virtual environment built from
# this checkout); /var/lib/walking-nas (the data directory, mode 0700, owned by walking-nas);
# /etc/systemd/system/walking-nas.service, and the optional nightly personalization timer
# (walking-nas-personalize.timer and .service, installed but not enabled). With systemd running it
# reloads, enables and starts the hub's service; otherwise it says how to start it later.
set -euo pipefail

SERVICE=walking-nas
SERVICE_USER=walking-nas
PREFIX_PATH=/opt/walking-nas
DATA_PATH=/var/lib/walking-nas
UNIT_PATH=/etc/systemd/system/walking-nas.service
TIMER_UNITS=(walking-nas-personalize.service walking-nas-personalize.timer)
SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ROOT=${DESTDIR:-}
PYTHON=${PYTHON:-python3}
DRY_RUN=0
UNINSTALL=0
PURGE_DATA=0
NO_DEPS=0
CHANGED=0
STAGING=
trap 'if [ -n "$STAGING" ]; then rm -rf "$STAGING"; fi' EXIT

usage() {
    cat <<'EOF'
Usage: deploy/install.sh [options]

  --root DIR      install into DIR instead of / (for tests and staging; also DESTDIR=DIR).
                  Users are added to DIR/etc/passwd; systemd is never touched.
  --python PY     Python 3.11+ to build the virtual environment with (default: python3)
  --no-deps       install only the hub package into the venv, not its dependencies
                  (for tests; the installed hub cannot run without them)
  --dry-run       print what would be done, change nothing
  --uninstall     stop and remove the service and /opt/walking-nas; keep the data
  --purge-data    with --uninstall: also delete /var/lib/walking-nas and the user
  -h, --help      this help
EOF
}

die() {
    printf 'install.sh: %s\n' "$*" >&2
    exit 2
}

say() {
    printf '%s\n' "$*"
}

# Run a command that changes the system, or only print it with --dry-run.
run() {
    CHANGED=1
    if [ "$DRY_RUN" = 1 ]; then
        printf '+ %s\n' "$*"
    else
        "$@"
    fi
}

while [ $# -gt 0 ]; do
    case "$1" in
        --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
        --root=*) ROOT=${1#--root=}; shift ;;
        --python) [ $# -ge 2 ] || die "--python needs a program"; PYTHON=$2; shift 2 ;;
        --no-deps) NO_DEPS=1; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        --purge-data) PURGE_DATA=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
done

[ "$PURGE_DATA" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge-data only goes with --uninstall"
ROOT=${ROOT%/}
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || die "--root $ROOT is not a directory: create it first"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" != / ] || ROOT=
fi
if [ -z "$ROOT" ] && [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run as root (sudo deploy/install.sh), or try --dry-run / --root DIR"
fi

PREFIX=$ROOT$PREFIX_PATH
DATA=$ROOT$DATA_PATH
UNIT=$ROOT$UNIT_PATH
VENV=$PREFIX/venv
STAMP=$PREFIX/.installed-source

systemd_usable() {
    [ -z "$ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null
}

# "uid:gid" of the service user in the target root, empty when there is none.
user_ids() {
    if [ -z "$ROOT" ]; then
        if getent passwd "$SERVICE_USER" >/dev/null; then
            printf '%s:%s\n' "$(id -u "$SERVICE_USER")" "$(id -g "$SERVICE_USER")"
        fi
    elif [ -f "$ROOT/etc/passwd" ]; then
        awk -F: -v name="$SERVICE_USER" '$1 == name { print $3 ":" $4 }' "$ROOT/etc/passwd"
    fi
}

ensure_user() {
    if [ -n "$(user_ids)" ]; then
        return
    fi
    local prefix=()
    if [ -n "$ROOT" ]; then
        [ -f "$ROOT/etc/passwd" ] || die "$ROOT/etc/passwd is missing: --root needs an etc/ with passwd and group"
        prefix=(--prefix "$ROOT")
    fi
    say "Adding system user $SERVICE_USER"
    run useradd "${prefix[@]}" --system --user-group --home-dir "$DATA_PATH" --no-create-home \
        --shell /usr/sbin/nologin "$SERVICE_USER"
}

# A hash of everything the venv is built from: a changed checkout means reinstall.
source_hash() {
    (
        cd "$SOURCE"
        local folders=() folder
        for folder in hub memory devices adapters; do
            [ ! -d "$folder" ] || folders+=("$folder")
        done
        find "${folders[@]}" -type f -not -path '*/__pycache__/*' -print0 \
            | sort -z | xargs -0 sha256sum
        sha256sum pyproject.toml README.md
    ) | sha256sum | cut -d' ' -f1
}

ensure_venv() {
    local wanted
    # A --no-deps test install must not pass for a full one.
    wanted="$(source_hash) no-deps=$NO_DEPS"
    if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
        return
    fi
    say "Building the virtual environment in $VENV from $SOURCE"
    [ -d "$PREFIX" ] || run install -d -m 0755 "$PREFIX"
    case "$(readlink -f "$(command -v "$PYTHON")")" in
        /root/* | /home/*)
            say "warning: $PYTHON lives under /root or /home, which the service cannot reach" \
                "(ProtectHome=yes); pass --python /usr/bin/python3 for a real install" ;;
    esac
    [ -x "$VENV/bin/python" ] || run "$PYTHON" -m venv "$VENV"
    # Build from a clean copy, so the checkout gains no build/ or egg-info folders.
    STAGING=$(mktemp -d)
    local parts=() part
    for part in pyproject.toml README.md LICENSE hub memory devices adapters; do
        [ ! -e "$SOURCE/$part" ] || parts+=("$part")
    done
    tar -C "$SOURCE" --exclude=__pycache__ -cf - "${parts[@]}" | tar -C "$STAGING" -xf -
    local pip_options=(--quiet --disable-pip-version-check)
    [ "$NO_DEPS" = 0 ] || pip_options+=(--no-deps)
    # llama.cpp is built with ggml's RPC backend, so `hub worker` and model workers work, and
    # without ggml's AMX kernels, which crash the model on virtual CPUs that report AMX.
    local no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
    CMAKE_ARGS="${CMAKE_ARGS:-} -DGGML_RPC=on" CFLAGS="${CFLAGS:-} $no_amx" \
        CXXFLAGS="${CXXFLAGS:-} $no_amx" run "$VENV/bin/python" -m pip install "${pip_options[@]}" --upgrade "$STAGING"
    if [ "$DRY_RUN" = 0 ]; then
        printf '%s\n' "$wanted" >"$STAMP"
    fi
}

ensure_data_dir() {
    local ids
    ids=$(user_ids)
    if [ ! -d "$DATA" ]; then
        say "Creating the data directory $DATA"
        run install -d -m 0700 "$DATA"
    fi
    if [ "$DRY_RUN" = 1 ] && [ ! -d "$DATA" ]; then
        return
    fi
    if [ "$(stat -c %a "$DATA")" != 700 ]; then
        run chmod 0700 "$DATA"
    fi
    if [ -n "$ids" ] && [ "$(stat -c %u:%g "$DATA")" != "$ids" ]; then
        run chown -R "$ids" "$DATA"
    fi
}

ensure_unit() {
    if [ -f "$UNIT" ] && cmp -s "$SOURCE/deploy/walking-nas.service" "$UNIT"; then
        return 1
    fi
    say "Installing $UNIT_PATH"
    [ -d "$(dirname "$UNIT")" ] || run install -d -m 0755 "$(dirname "$UNIT")"
    run install -m 0644 "$SOURCE/deploy/walking-nas.service" "$UNIT"
}

# The optional personalization timer and its service, next to the hub's unit; 0 when changed.
ensure_timer_units() {
    local name target changed=1
    for name in "${TIMER_UNITS[@]}"; do
        target=$(dirname "$UNIT")/$name
        if [ -f "$target" ] && cmp -s "$SOURCE/deploy/$name" "$target"; then
            continue
        fi
        say "Installing $(dirname "$UNIT_PATH")/$name"
        run install -m 0644 "$SOURCE/deploy/$name" "$target"
        changed=0
    done
    return "$changed"
}

install_hub() {
    umask 022
    ensure_user
    ensure_venv
    ensure_data_dir
    local unit_changed=0
    if ensure_unit; then
        unit_changed=1
    fi
    if ensure_timer_units; then
        unit_changed=1
    fi
    if systemd_usable; then
        [ "$unit_changed" = 0 ] || run systemctl daemon-reload
        if ! systemctl is-enabled --quiet "$SERVICE" 2>/dev/null; then
            run systemctl enable --now "$SERVICE"
        elif [ "$CHANGED" = 1 ]; then
            run systemctl restart "$SERVICE"
        fi
    else
        say "systemd is not running here: start the hub later with" \
            "'systemctl daemon-reload && systemctl enable --now $SERVICE'"
    fi
    if [ "$CHANGED" = 0 ]; then
        say "Walking NAS is already installed and up to date; nothing changed."
    else
        say "Installed. Check it with: sudo -u $SERVICE_USER $PREFIX_PATH/venv/bin/hub doctor --data-dir $DATA_PATH"
    fi
}

uninstall_hub() {
    if systemd_usable && [ -f "$UNIT" ]; then
        run systemctl disable --now "$SERVICE" || true
    fi
    local name
    for name in "${TIMER_UNITS[@]}"; do
        if [ -f "$(dirname "$UNIT")/$name" ]; then
            if systemd_usable; then
                run systemctl disable --now "$name" || true
            fi
            run rm -f "$(dirname "$UNIT")/$name"
        fi
    done
    if [ -f "$UNIT" ]; then
        say "Removing $UNIT_PATH"
        run rm -f "$UNIT"
        if systemd_usable; then
            run systemctl daemon-reload
        fi
    fi
    if [ -d "$PREFIX" ]; then
        say "Removing $PREFIX_PATH"
        run rm -rf "$PREFIX"
    fi
    if [ "$PURGE_DATA" = 1 ]; then
        if [ -d "$DATA" ]; then
            say "Deleting the data directory $DATA_PATH"
            run rm -rf "$DATA"
        fi
        if [ -n "$(user_ids)" ]; then
            local prefix=()
            [ -z "$ROOT" ] || prefix=(--prefix "$ROOT")
            run userdel "${prefix[@]}" "$SERVICE_USER"
        fi
    elif [ -d "$DATA" ]; then
        say "Kept the data in $DATA_PATH and the user $SERVICE_USER (--purge-data removes them)."
    fi
}

if [ "$UNINSTALL" = 1 ]; then
    uninstall_hub
else
    install_hub
fi
