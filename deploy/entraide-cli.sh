#!/usr/bin/env bash
# /usr/local/bin/entraide on a plain install (deploy/README.md, option B):
#
#   install -m 0755 deploy/entraide-cli.sh /usr/local/bin/entraide
#
# Runs the Entraide command line of /opt/entraide/venv as the `entraide` user, on
# the node's data dir and with the settings of the service
# (/etc/entraide/entraide.env), so that files it creates belong to the service
# and PostgreSQL's peer authentication lets it in. Run it as root:
#
#   entraide user create --email alice@example.org --password "$PW" --role admin
#   entraide peer list
set -euo pipefail

PROGRAM=/opt/entraide/venv/bin/entraide
export ENTRAIDE_DATA_DIR="${ENTRAIDE_DATA_DIR:-/var/lib/entraide}"

if [[ -r /etc/entraide/entraide.env ]]; then
    set -a
    # shellcheck source=/dev/null
    . /etc/entraide/entraide.env
    set +a
fi

if [[ "$(id -un)" == entraide ]]; then
    exec "$PROGRAM" "$@"
elif [[ "$(id -u)" -eq 0 ]]; then
    # Stay in the current directory (relative paths such as `backup --to x` keep
    # their meaning) unless the service user may not enter it, e.g. /root.
    if ! runuser -u entraide -- test -x "$PWD" 2>/dev/null; then
        cd /
    fi
    exec runuser -u entraide -- "$PROGRAM" "$@"
else
    echo "entraide: run this as root (it switches to the entraide user)" >&2
    exit 1
fi
