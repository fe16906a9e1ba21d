#!/usr/bin/env bash
# Install (Debian) and start a local PostgreSQL + PostGIS for landplan's database tests.
#
#   LANDPLAN_TEST_DB=$(bash tools/postgis.sh) || exit 1; export LANDPLAN_TEST_DB
#
# Idempotent, and fast (a few seconds) when everything is already installed and running:
#   1. as root with apt-get: install Debian's postgresql and postgis packages when missing;
#   2. make the cluster listen on loopback (127.0.0.1) only, and start it;
#   3. create the role `landplan` (password login) and the UTF8 database `landplan_test`
#      with the postgis extension;
#   4. keep the role's password in the current user's pgpass file (PGPASSFILE, or ~/.pgpass,
#      mode 600): generated once, reused after. It never appears on a command line.
# The only line on standard output is the connection URL, without a password, e.g.
#   postgresql://landplan@127.0.0.1:5432/landplan_test
# Everything else goes to standard error. Exits non-zero when the database cannot be made
# ready (not root and no server running, apt failure, server not starting).
#
# Environment: LANDPLAN_PG_ROLE (landplan), LANDPLAN_PG_DB (landplan_test).
set -euo pipefail

ROLE="${LANDPLAN_PG_ROLE:-landplan}"
DB="${LANDPLAN_PG_DB:-landplan_test}"
HOST=127.0.0.1
HOME="${HOME:-$(getent passwd "$(id -un)" | cut -d: -f6)}"
PGPASS="${PGPASSFILE:-$HOME/.pgpass}"

say() { echo "postgis.sh: $*" >&2; }
die() { echo "postgis.sh: ERROR: $*" >&2; exit 1; }

case "$ROLE$DB" in
  *[!a-z0-9_]*) die "LANDPLAN_PG_ROLE and LANDPLAN_PG_DB may hold only a-z, 0-9 and _" ;;
esac

cluster_line() {  # "version name port status" of the first cluster, if any
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1, $2, $3, $4}'
}

reachable() {  # can we log in with the pgpass password? (no password on the command line)
  local port="$1"
  command -v psql >/dev/null 2>&1 || return 1
  PGPASSFILE="$PGPASS" PGCONNECT_TIMEOUT=5 psql -X -w -q -h "$HOST" -p "$port" -U "$ROLE" \
    -d "$DB" -tAc "SELECT 1 FROM pg_extension WHERE extname = 'postgis'" 2>/dev/null | grep -qx 1
}

# --- not root: only report -----------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
  read -r _v _c port _s <<<"$(cluster_line)" || true
  port="${port:-5432}"
  if reachable "$port"; then
    echo "postgresql://$ROLE@$HOST:$port/$DB"
    exit 0
  fi
  cat >&2 <<EOF
postgis.sh: ERROR: no PostgreSQL with PostGIS reachable as $ROLE@$HOST:$port/$DB, and this
script installs and starts one only when run as root. As root (or with sudo), run:
    bash tools/postgis.sh
or set it up by hand:
    apt-get install -y postgresql postgis
    pg_ctlcluster <version> main start
    create role $ROLE (LOGIN, a password) and database $DB (ENCODING 'UTF8', TEMPLATE template0)
    CREATE EXTENSION postgis in $DB; put the password in ~/.pgpass (mode 600)
EOF
  exit 1
fi

# --- 1. packages ---------------------------------------------------------------------------
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
pgver() { ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1; }
need=()
pkg_ok postgresql || need+=(postgresql)
ver="$(pgver)"
if [ -z "$ver" ] || ! ls /usr/share/postgresql/"$ver"/extension/postgis.control >/dev/null 2>&1; then
  need+=(postgis)
fi
if [ "${#need[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install PostgreSQL and PostGIS by hand"
  say "installing ${need[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends postgresql >&2 || die "apt-get install postgresql failed"
  ver="$(pgver)"
  [ -n "$ver" ] || die "postgresql installed but no server version under /usr/lib/postgresql"
  # `postgis` is Debian's package of the PostGIS tools; postgresql-N-postgis-3 is the extension.
  apt-get install -y -qq --no-install-recommends postgis "postgresql-$ver-postgis-3" >&2 \
    || die "apt-get install postgis postgresql-$ver-postgis-3 failed"
fi
ver="$(pgver)"
[ -n "$ver" ] || die "no PostgreSQL server installed"

# --- 2. cluster on loopback, started -------------------------------------------------------
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$ver" '$1 == v && $2 == "main"' | grep -q .; then
  say "creating cluster $ver/main (UTF8)"
  pg_createcluster --encoding=UTF8 --locale=C.UTF-8 "$ver" main >&2 \
    || pg_createcluster --encoding=UTF8 --locale=C "$ver" main >&2 \
    || die "pg_createcluster $ver main failed"
fi
conf_dir="/etc/postgresql/$ver/main/conf.d"
conf="$conf_dir/landplan.conf"
want="listen_addresses = '$HOST'"
restart=0
if [ ! -f "$conf" ] || ! grep -qx "$want" "$conf"; then
  mkdir -p "$conf_dir"
  printf '# written by landplan tools/postgis.sh: loopback only\n%s\n' "$want" >"$conf"
  restart=1
fi
read -r _v _c port status <<<"$(pg_lsclusters -h | awk -v v="$ver" '$1 == v && $2 == "main" {print $1, $2, $3, $4}')"
if [ "$status" = online ] && [ "$restart" = 1 ]; then
  say "restarting cluster $ver/main to listen on $HOST only"
  pg_ctlcluster "$ver" main restart >&2 || die "pg_ctlcluster $ver main restart failed"
elif [ "$status" != online ]; then
  say "starting cluster $ver/main"
  pg_ctlcluster "$ver" main start >&2 \
    || die "pg_ctlcluster $ver main start failed; see /var/log/postgresql/postgresql-$ver-main.log"
fi
for _ in $(seq 1 30); do
  pg_isready -q -h "$HOST" -p "$port" && break
  sleep 1
done
pg_isready -q -h "$HOST" -p "$port" || die "server not accepting connections on $HOST:$port"

# --- 3. role, database, extension; 4. password in pgpass -----------------------------------
if reachable "$port"; then
  echo "postgresql://$ROLE@$HOST:$port/$DB"
  exit 0
fi
entry_prefix="$HOST:$port:*:$ROLE:"
password=""
if [ -f "$PGPASS" ]; then
  password="$(grep -F -- "$entry_prefix" "$PGPASS" | head -1 | cut -d: -f5- || true)"
fi
if [ -z "$password" ]; then
  password="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  umask 077
  touch "$PGPASS"
  printf '%s%s\n' "$entry_prefix" "$password" >>"$PGPASS"
  say "password for $ROLE written to $PGPASS"
fi
chmod 600 "$PGPASS"
case "$password" in *[!0-9a-f]*) die "the $ROLE password in $PGPASS is not one this script wrote; remove that line" ;; esac

as_postgres() { (cd / && su postgres -s /bin/sh -c "psql -X -q -v ON_ERROR_STOP=1 -p $port $*"); }
# SQL goes through standard input, so the password never shows in a process list.
as_postgres -d postgres >&2 <<SQL
SELECT format('CREATE ROLE %I LOGIN', '$ROLE')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') \gexec
ALTER ROLE $ROLE WITH LOGIN PASSWORD '$password';
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L LC_COLLATE %L LC_CTYPE %L TEMPLATE template0',
              '$DB', '$ROLE', 'UTF8', 'C', 'C')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB') \gexec
SQL
enc="$(as_postgres -d postgres -tA <<<"SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = '$DB'")"
[ "$enc" = UTF8 ] || die "database $DB exists with encoding $enc, not UTF8: drop it and run again"
as_postgres -d "$DB" >&2 <<SQL
CREATE EXTENSION IF NOT EXISTS postgis;
SQL
reachable "$port" || die "cannot log in as $ROLE@$HOST:$port/$DB with the password in $PGPASS"
say "ready"
echo "postgresql://$ROLE@$HOST:$port/$DB"
