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

template=/usr/share/harness/pgdata-template
psql_as() {
    local user="$1"
    shift
    psql -v ON_ERROR_STOP=1 -X -q --username "$user" --no-password "$@"
}

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    if [[ -z "${POSTGRES_PASSWORD:-}" && "$auth_method" != "trust" ]]; then
        echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        echo "  (set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
        exit 1
    fi
    if [[ -z "${POSTGRES_INITDB_ARGS:-}" && -s "$template/PG_VERSION" ]]; then
        # A copy of the cluster initdb made at build time (superuser "postgres"): initdb is
        # most of a start (1-2 s), and containers here are started once per test session.
        cp -a "$template/." "$PGDATA/"
        seeded=1
    else
        # --no-sync: a crash in the first second only loses a database nobody used yet.
        # shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a word list, as officially
        initdb --username="$POSTGRES_USER" --encoding=UTF8 --locale=C.UTF-8 --no-sync \
            --auth-local=trust --auth-host="$auth_method" ${POSTGRES_INITDB_ARGS:-} >/dev/null
        seeded=0
    fi
    # Local connections are trusted (this script, docker exec); any address may connect
    # with the password: published ports arrive from the bridge, not from 127.0.0.1.
    printf 'local all all trust\nhost all all all %s\n' "$auth_method" >"$PGDATA/pg_hba.conf"
    # The real server listens everywhere in the container; the temporary one overrides it.
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

    # The temporary server: Unix socket only, so nothing outside can reach it yet.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c fsync=off" -w -s start
    if [[ "$seeded" == 1 && "$POSTGRES_USER" != "postgres" ]]; then
        # Make the template's superuser POSTGRES_USER, as initdb --username would have.
        # A role cannot rename itself while connected as itself: a stand-in does it.
        psql_as postgres --dbname postgres <<<'CREATE ROLE harness_entrypoint SUPERUSER LOGIN;'
        psql_as harness_entrypoint --dbname postgres --set user="$POSTGRES_USER" \
            <<<'ALTER ROLE postgres RENAME TO :"user";'
        psql_as "$POSTGRES_USER" --dbname postgres <<<'DROP ROLE harness_entrypoint;'
    fi
    if [[ -n "${POSTGRES_PASSWORD:-}" ]]; then
        # \getenv keeps the password out of every command line.
        psql_as "$POSTGRES_USER" --dbname postgres --set user="$POSTGRES_USER" <<<"
            \\getenv pw POSTGRES_PASSWORD
            ALTER ROLE :\"user\" PASSWORD :'pw';"
    fi
    if [[ "$POSTGRES_DB" != "postgres" ]]; then
        # Quote the name as an identifier: POSTGRES_DB may hold any character.
        psql_as "$POSTGRES_USER" --dbname postgres --set db="$POSTGRES_DB" \
            <<<'CREATE DATABASE :"db";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
        *.sh) echo "running $f"; . "$f" ;;
        *.sql) echo "running $f"; psql_as "$POSTGRES_USER" --dbname "$POSTGRES_DB" -f "$f" ;;
        *.sql.gz) echo "running $f"; gunzip -c "$f" | psql_as "$POSTGRES_USER" --dbname "$POSTGRES_DB" ;;
        *) [[ -e "$f" ]] && echo "ignoring $f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w -s stop
    echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
