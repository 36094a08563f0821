#!/usr/bin/env bash
# Entrypoint of the Entraide image (deploy/Dockerfile).
#
#   (no argument) or `serve`  first start: `entraide init` from the environment;
#                             every start: `entraide db upgrade`, then
#                             `exec entraide serve --host 0.0.0.0 --port 8000`
#   `worker`                  `exec entraide worker` (the node must be initialised:
#                             in compose.yaml the worker waits for a healthy web)
#   any other entraide command  `exec entraide "$@"`, e.g. `user create …`,
#                             `peer list`, `backup --to /backups/x`, `restore --from …`
#   anything else             run as is (`bash`, `python`, …)
#
# Environment read here (and only here; they are not settings):
#   ENTRAIDE_DOMAIN          HOST[:PORT] of the node            (first start, required)
#   ENTRAIDE_NAME            the territory's name               (first start, required)
#   ENTRAIDE_SCHEME          https (default) or http            (first start)
#   ENTRAIDE_HANDLE          the territory actor's handle       (first start, default territory)
#   DATABASE_URL             postgresql+asyncpg://user:pw@host/db; empty: SQLite in the
#                            data dir. Written by init, and passed on every start as
#                            ENTRAIDE_DATABASE__URL, so a changed password in .env wins.
#   ENTRAIDE_SERVE_WORKERS   web processes (`serve --workers N`, PostgreSQL only; default 1)
#   ENTRAIDE_DATA_DIR        the data dir (/data in the image)
# Any setting can be given as ENTRAIDE_<SECTION>__<KEY> (two underscores).
set -euo pipefail

DATA_DIR="${ENTRAIDE_DATA_DIR:-/data}"
export ENTRAIDE_DATA_DIR="$DATA_DIR"

# One line on stderr; a JSON object, as the node's own lines, with ENTRAIDE_LOG__FORMAT=json.
say() {
    local level="$1"
    shift
    if [[ "${ENTRAIDE_LOG__FORMAT:-}" == json ]]; then
        local text="$*"
        text="${text//\\/\\\\}"
        text="${text//\"/\\\"}"
        printf '{"time": "%s", "level": "%s", "logger": "entrypoint", "message": "%s"}\n' \
            "$(date -u +%Y-%m-%dT%H:%M:%S+00:00)" "$level" "$text" >&2
    elif [[ "$level" == ERROR ]]; then
        printf 'entrypoint: error: %s\n' "$*" >&2
    else
        printf 'entrypoint: %s\n' "$*" >&2
    fi
}

log() {
    say INFO "$@"
}

die() {
    say ERROR "$@"
    exit 1
}

is_initialised() {
    [[ -f "$DATA_DIR/entraide.toml" ]]
}

# The data dir holds nothing yet (a fresh volume may hold lost+found).
is_empty() {
    [[ ! -d "$DATA_DIR" ]] || [[ -z "$(find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]]
}

first_start() {
    [[ -n "${ENTRAIDE_DOMAIN:-}" ]] || die "ENTRAIDE_DOMAIN is not set (the node's HOST[:PORT])"
    [[ -n "${ENTRAIDE_NAME:-}" ]] || die "ENTRAIDE_NAME is not set (the territory's name)"
    local args=(
        init
        --domain "$ENTRAIDE_DOMAIN"
        --name "$ENTRAIDE_NAME"
        --scheme "${ENTRAIDE_SCHEME:-https}"
        --handle "${ENTRAIDE_HANDLE:-territory}"
    )
    if [[ -n "${DATABASE_URL:-}" ]]; then
        args+=(--database-url "$DATABASE_URL")
    fi
    log "first start: initialising $DATA_DIR for $ENTRAIDE_DOMAIN"
    entraide "${args[@]}"
}

# These variables are for this script only; settings come from entraide.toml and
# ENTRAIDE_<SECTION>__<KEY>.
forget_entrypoint_variables() {
    unset ENTRAIDE_DOMAIN ENTRAIDE_NAME ENTRAIDE_SCHEME ENTRAIDE_HANDLE ENTRAIDE_SERVE_WORKERS
}

if [[ -n "${DATABASE_URL:-}" && -z "${ENTRAIDE_DATABASE__URL:-}" ]]; then
    export ENTRAIDE_DATABASE__URL="$DATABASE_URL"
fi

if [[ $# -eq 0 ]]; then
    set -- serve
fi

case "$1" in
    serve)
        shift
        if ! is_initialised; then
            is_empty || die "$DATA_DIR has files but no entraide.toml: empty it, or restore a backup into it with \`entraide restore --from FILE\`"
            first_start
        fi
        entraide db upgrade
        workers="${ENTRAIDE_SERVE_WORKERS:-1}"
        [[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "ENTRAIDE_SERVE_WORKERS must be a positive integer, got '$workers'"
        forget_entrypoint_variables
        exec entraide serve --host 0.0.0.0 --port 8000 --workers "$workers" "$@"
        ;;
    worker)
        shift
        is_initialised || die "$DATA_DIR is not initialised yet: start the web container first (it runs \`entraide init\`)"
        forget_entrypoint_variables
        exec entraide worker "$@"
        ;;
    init | db | user | structure | token | peer | domain | keys | backup | restore | demo)
        forget_entrypoint_variables
        exec entraide "$@"
        ;;
    -*)
        # Options only (`--help`, `--debug serve`): the entraide command line reads them.
        forget_entrypoint_variables
        exec entraide "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
