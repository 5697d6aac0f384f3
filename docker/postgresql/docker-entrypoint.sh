#!/bin/bash
# Entrypoint of the lane's PostgreSQL image: the official image's contract, minus extras.
#
# Honoured: POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust),
# POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER),
# POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, PGDATA, and *.sql / *.sh files in
# /docker-entrypoint-initdb.d. Setup runs on a server that listens on the Unix socket
# only: testcontainers' PostgresContainer waits by connecting over TCP 127.0.0.1 inside
# the container, so TCP must not answer before the database and role exist.
set -Eeuo pipefail

# `docker run IMAGE -c fsync=off` means `postgres -c fsync=off`, as in the official image.
if [[ $# -eq 0 || "${1:0:1}" == "-" ]]; then
    set -- postgres "$@"
fi

if [[ "$1" != "postgres" ]]; then
    exec "$@"
fi

# Drop to the postgres user for everything else; setpriv execs directly (no PAM, no
# extra process), so the server ends up as PID 1 and receives docker stop's signal.
if [[ "$(id -u)" == 0 ]]; then
    install -d -o postgres -g postgres -m 0700 "$PGDATA"
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
auth_method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth_method" != "trust" ]]; then
        echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        echo "  (set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    # --no-sync: a crash during the first second only loses a database nobody used yet.
    # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list, as officially
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 \
        --locale=C.UTF-8 --auth-local=trust --auth-host="$auth_method" --no-sync \
        ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"
    # initdb only admits 127.0.0.1 and ::1 over TCP; published ports arrive from the
    # bridge, so admit every address (with a password), as the official image does.
    printf 'host all all all %s\n' "$auth_method" >>"$PGDATA/pg_hba.conf"
    # The real server listens everywhere in the container; the temporary one overrides it.
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

    # The temporary server: Unix socket only, so nothing outside can reach it yet.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c fsync=off" -w -s start
    psql=(psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --no-password)
    if [[ "$POSTGRES_DB" != "postgres" ]]; then
        # Quote the name as an identifier: POSTGRES_DB may hold any character.
        "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
        *.sh) echo "running $f"; . "$f" ;;
        *.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
        *.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
        *) [[ -e "$f" ]] && echo "ignoring $f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w -s stop
    echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
