#!/usr/bin/env bash
# Makes a Debian 12 machine ready for apim-migrate's integration tests: database clients, age, zstd, openssl, tar
# and gzip installed, PostgreSQL and MariaDB answering on 127.0.0.1, and one password-checked PostgreSQL login
# (the local PostgreSQL trusts every other login, so a wrong password could not be tested).
# Idempotent; run as root. Prints one line per action it takes.
set -euo pipefail

readonly PG_TEST_ROLE=apim_migrate_pwtest
readonly PG_TEST_PASSWORD=apim-migrate-pwtest
readonly WAIT_SECONDS=60

apt_updated=no

log() { printf 'ensure-services: %s\n' "$*"; }

install_package() {
  local package=$1
  if [[ $apt_updated == no ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=yes
  fi
  log "installing $package"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
}

install_clients() {
  command -v pg_dump >/dev/null 2>&1 || install_package postgresql-client
  command -v mysqldump >/dev/null 2>&1 || install_package mariadb-client
  # The stock age tool: the backup tests check that it decrypts what apim-migrate encrypts.
  command -v age >/dev/null 2>&1 || install_package age
  # GNU time: the benchmarks read the peak memory of what they measure from it.
  [ -x /usr/bin/time ] || install_package time
  # A JDK: the demo's stand-in launcher, like api-manager.sh, needs JAVA_HOME or a java on PATH.
  command -v java >/dev/null 2>&1 || install_package openjdk-17-jre-headless
  # openssl: the stand-in server's HTTPS responder makes its self-signed certificate with it.
  command -v openssl >/dev/null 2>&1 || install_package openssl
  # tar and gzip: the startup stage keeps folders of the API-M home as gzip'd tar archives, and unpacks them again.
  command -v tar >/dev/null 2>&1 || install_package tar
  command -v gzip >/dev/null 2>&1 || install_package gzip
  # zstd: backups compress dumps with it on every core where it is installed (without it they fall back to slower
  # compression), and restores of such backups need it.
  command -v zstd >/dev/null 2>&1 || install_package zstd
}

pg_cluster_version() {
  local versions
  versions=$(ls /etc/postgresql 2>/dev/null || true)
  if [[ -z $versions ]]; then
    echo "ensure-services: no PostgreSQL cluster under /etc/postgresql" >&2
    exit 1
  fi
  # The newest cluster, should there be several.
  printf '%s\n' "$versions" | sort -V | tail -n 1
}

postgres_answers() { pg_isready -q -h 127.0.0.1; }
mariadb_answers() { mariadb-admin -h127.0.0.1 -uroot ping >/dev/null 2>&1; }

# Waits until a check succeeds, at most WAIT_SECONDS.
wait_for() {
  local what=$1 check=$2 waited=0
  until "$check"; do
    if ((waited >= WAIT_SECONDS)); then
      echo "ensure-services: $what did not answer within ${WAIT_SECONDS}s" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

start_postgres() {
  postgres_answers && return 0
  local version
  version=$(pg_cluster_version)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL postgres_answers
}

start_mariadb() {
  mariadb_answers && return 0
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mariadb_answers
}

psql_admin() { psql -X -q -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

# The scram rule must come before the catch-all `host all all ... trust` rule: the first match wins.
ensure_pg_hba_rule() {
  local hba rule
  hba=/etc/postgresql/$(pg_cluster_version)/main/pg_hba.conf
  rule="host all $PG_TEST_ROLE 127.0.0.1/32 scram-sha-256"
  if grep -Eq "^[[:space:]]*host[[:space:]]+all[[:space:]]+$PG_TEST_ROLE[[:space:]]" "$hba"; then
    return 0
  fi
  log "adding '$rule' to $hba"
  awk -v rule="$rule" '
    !done && /^[[:space:]]*host(ssl|nossl|gssenc|nogssenc)?[[:space:]]/ { print rule; done = 1 }
    { print }
    END { if (!done) print rule }
  ' "$hba" >"$hba.apim-migrate.tmp"
  # Keep the owner and mode PostgreSQL expects.
  chown --reference="$hba" "$hba.apim-migrate.tmp"
  chmod --reference="$hba" "$hba.apim-migrate.tmp"
  mv "$hba.apim-migrate.tmp" "$hba"
  log "reloading PostgreSQL configuration"
  psql_admin -tAc 'SELECT pg_reload_conf()' >/dev/null
  # pg_reload_conf only signals the postmaster; give it a moment before tests log in.
  sleep 1
}

ensure_pg_test_role() {
  local exists
  exists=$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$PG_TEST_ROLE'")
  [[ $exists == 1 ]] && return 0
  log "creating PostgreSQL role $PG_TEST_ROLE"
  # scram-sha-256 is the default password_encryption on PostgreSQL 14+; set it so older ones hash alike.
  psql_admin -c "SET password_encryption = 'scram-sha-256'" \
    -c "CREATE ROLE $PG_TEST_ROLE LOGIN NOSUPERUSER PASSWORD '$PG_TEST_PASSWORD'"
}

main() {
  install_clients
  start_postgres
  start_mariadb
  ensure_pg_hba_rule
  ensure_pg_test_role
}

main "$@"
