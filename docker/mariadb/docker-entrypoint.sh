#!/bin/bash
# Entrypoint of the lane's MariaDB image: the official image's contract, minus extras.
#
# Honoured, each also as MARIADB_*: MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD /
# MYSQL_RANDOM_ROOT_PASSWORD), MYSQL_ROOT_HOST (default %), MYSQL_DATABASE, MYSQL_USER,
# MYSQL_PASSWORD, and *.sql / *.sql.gz / *.sh files in /docker-entrypoint-initdb.d.
# As in the official image, setup runs on a temporary server that does not listen on
# TCP, then the real server starts: each logs "ready for connections" once, and
# testcontainers' MySqlContainer waits for that line twice.
set -Eeuo pipefail

# `docker run IMAGE --some-option` means `mariadbd --some-option`, as officially.
if [[ $# -eq 0 || "${1:0:1}" == "-" ]]; then
    set -- mariadbd "$@"
fi
if [[ "$1" != "mariadbd" && "$1" != "mysqld" ]]; then
    exec "$@"
fi

# MARIADB_X wins over MYSQL_X, as in the official image.
env_of() {
    local mariadb="MARIADB_$1" mysql="MYSQL_$1"
    printf '%s' "${!mariadb:-${!mysql:-${2:-}}}"
}
# A string literal for SQL: backslashes and quotes escaped.
sql_string() {
    local s="${1//\\/\\\\}"
    s="${s//\'/\\\'}"
    printf "'%s'" "$s"
}
# An identifier for SQL: backticks doubled.
sql_name() {
    printf '`%s`' "${1//\`/\`\`}"
}

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock
template=/usr/share/harness/mariadb-template
# The Dockerfile makes $template the same way.
install_db() {
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db --skip-name-resolve \
        --auth-root-authentication-method=socket >/dev/null
}
install -d -o mysql -g mysql -m 0755 "$datadir" /run/mysqld

if [[ ! -d "$datadir/mysql" ]]; then
    root_password="$(env_of ROOT_PASSWORD)"
    allow_empty="$(env_of ALLOW_EMPTY_ROOT_PASSWORD "${MYSQL_ALLOW_EMPTY_PASSWORD:-}")"
    random_root="$(env_of RANDOM_ROOT_PASSWORD)"
    if [[ -z "$root_password" && -z "$allow_empty" && -z "$random_root" ]]; then
        echo "error: database is uninitialized and no root password option is set" >&2
        echo "  (set MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD)" >&2
        exit 1
    fi
    if [[ -n "$random_root" ]]; then
        root_password="$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)"
        echo "GENERATED ROOT PASSWORD: $root_password"
    fi
    root_host="$(env_of ROOT_HOST %)"
    database="$(env_of DATABASE)"
    user="$(env_of USER)"
    password="$(env_of PASSWORD)"

    # root@localhost authenticates through the Unix socket, so this script (running as
    # root) can set everything up without a password in a command line.
    if [[ -d "$template/mysql" ]]; then
        # System tables made once at build time, the same way: mariadb-install-db is
        # most of a start (1-2 s), and containers here are started once per test session.
        cp -a "$template/." "$datadir/"
    else
        install_db
    fi

    # The temporary server: no TCP, so nothing outside can connect before setup is done.
    mariadbd --user=mysql --datadir="$datadir" --socket="$socket" --skip-networking \
        --skip-log-bin --innodb-flush-log-at-trx-commit=0 &
    temp_pid=$!
    client=(mariadb --protocol=socket --socket="$socket" -uroot --batch --skip-column-names)
    for _ in $(seq 300); do
        "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
        kill -0 "$temp_pid" 2>/dev/null || { echo "error: temporary server died" >&2; exit 1; }
        sleep 0.1
    done

    {
        printf 'SET @@SESSION.SQL_LOG_BIN=0;\n'
        # Any account the package made besides root@localhost and the system ones goes.
        printf "DELETE FROM mysql.global_priv WHERE User NOT IN ('mariadb.sys', 'root') OR Host != 'localhost';\n"
        # mariadb-install-db names the machine it ran on here (the image build's).
        printf "DELETE FROM mysql.proxies_priv WHERE NOT (User = 'root' AND Host = 'localhost');\n"
        pw="$(sql_string "$root_password")"
        printf 'ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(%s);\n' "$pw"
        if [[ "$root_host" != "localhost" ]]; then
            host="$(sql_string "$root_host")"
            printf 'CREATE USER root@%s IDENTIFIED BY %s;\n' "$host" "$pw"
            printf 'GRANT ALL ON *.* TO root@%s WITH GRANT OPTION;\n' "$host"
            printf "GRANT PROXY ON ''@'%%' TO root@%s WITH GRANT OPTION;\n" "$host"
        fi
        if [[ -n "$database" ]]; then
            printf 'CREATE DATABASE IF NOT EXISTS %s;\n' "$(sql_name "$database")"
        fi
        if [[ -n "$user" && -n "$password" ]]; then
            printf "CREATE USER %s@'%%' IDENTIFIED BY %s;\n" "$(sql_string "$user")" "$(sql_string "$password")"
            if [[ -n "$database" ]]; then
                printf "GRANT ALL ON %s.* TO %s@'%%';\n" "$(sql_name "$database")" "$(sql_string "$user")"
            fi
        fi
        printf 'FLUSH PRIVILEGES;\n'
    } | "${client[@]}"

    for f in /docker-entrypoint-initdb.d/*; do
        db=()
        [[ -n "$database" ]] && db=(--database="$database")
        case "$f" in
        *.sh) echo "running $f"; . "$f" ;;
        *.sql) echo "running $f"; "${client[@]}" "${db[@]}" <"$f" ;;
        *.sql.gz) echo "running $f"; gunzip -c "$f" | "${client[@]}" "${db[@]}" ;;
        *) [[ -e "$f" ]] && echo "ignoring $f" ;;
        esac
    done

    "${client[@]}" -e 'SHUTDOWN'
    wait "$temp_pid"
    echo "MariaDB init process done. Ready for start up."
fi

exec "$@" --user=mysql
