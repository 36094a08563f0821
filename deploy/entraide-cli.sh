#!/usr/bin/env bash
# /usr/local/bin/entraide on a plain install (deploy/README.md, option B):
#
#   install -m 0755 deploy/entraide-cli.sh /usr/local/bin/entraide
#
# Runs the Entraide command line as the node's system user, on the node's data dir
# and with the settings of its service, so that files it creates belong to the
# service and PostgreSQL's peer authentication lets it in. Run it as root:
#
#   entraide user create --email alice@example.org --password "$PW" --role admin
#   entraide peer list
#
# One node (entraide.service): user `entraide`, data /var/lib/entraide, settings
# /etc/entraide/entraide.env. Several nodes on one machine (entraide@.service): name
# the node, and its user, data dir and settings follow from the name:
#
#   ENTRAIDE_NODE=valley entraide peer list   # entraide-valley, /var/lib/entraide-valley,
#                                             # /etc/entraide/valley.env
#
# Each can also be given on its own: ENTRAIDE_USER, ENTRAIDE_DATA_DIR,
# ENTRAIDE_ENV_FILE, and ENTRAIDE_PROGRAM (default /opt/entraide/venv/bin/entraide).
set -euo pipefail

NODE="${ENTRAIDE_NODE:-}"
if [[ -z "$NODE" ]]; then
    default_user=entraide
    default_data=/var/lib/entraide
    default_env=/etc/entraide/entraide.env
elif [[ "$NODE" =~ ^[a-z0-9][a-z0-9-]*$ ]]; then
    default_user="entraide-$NODE"
    default_data="/var/lib/entraide-$NODE"
    default_env="/etc/entraide/$NODE.env"
else
    echo "entraide: ENTRAIDE_NODE must be a node name (a-z, 0-9, -), got '$NODE'" >&2
    exit 2
fi

PROGRAM="${ENTRAIDE_PROGRAM:-/opt/entraide/venv/bin/entraide}"
RUN_AS="${ENTRAIDE_USER:-$default_user}"
ENV_FILE="${ENTRAIDE_ENV_FILE:-$default_env}"
export ENTRAIDE_DATA_DIR="${ENTRAIDE_DATA_DIR:-$default_data}"

if [[ -r "$ENV_FILE" ]]; then
    set -a
    # shellcheck source=/dev/null
    . "$ENV_FILE"
    set +a
elif [[ -n "$NODE" ]]; then
    echo "entraide: $ENV_FILE not found: node '$NODE' is not set up (see deploy/README.md)" >&2
    exit 1
fi

if [[ "$(id -un)" == "$RUN_AS" ]]; then
    exec "$PROGRAM" "$@"
elif [[ "$(id -u)" -eq 0 ]]; then
    # Stay in the current directory (relative paths such as `backup --to x` keep
    # their meaning) unless the service user may not enter it, e.g. /root.
    if ! runuser -u "$RUN_AS" -- test -x "$PWD" 2>/dev/null; then
        cd /
    fi
    exec runuser -u "$RUN_AS" -- "$PROGRAM" "$@"
else
    echo "entraide: run this as root (it switches to the $RUN_AS user)" >&2
    exit 1
fi
