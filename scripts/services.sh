#!/usr/bin/env bash
# Make sure the local services the tests use are up: PostgreSQL (127.0.0.1:5432, database
# `test`, trust auth for local connections) and Redis (127.0.0.1:6379). Installs them with
# apt-get when missing; needs root for that.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "services: nothing answers on 127.0.0.1:$1" >&2; return 1
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}

ensure_postgres() {
  if ! port_open 5432; then
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    hba=/etc/postgresql/$version/main/pg_hba.conf
    # A throwaway test server: trust local connections, like the CI machines.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
      printf 'local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n' >"$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for 5432
  fi
  if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
  fi
}

ensure_redis() {
  port_open 6379 && return 0
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 6379
}

ensure_postgres
ensure_redis
# the SMTP TLS test makes its certificate with the openssl command
command -v openssl >/dev/null || apt_install openssl
# the HTML report test opens the report in headless Chromium
command -v chromium >/dev/null || apt_install chromium chromium-driver
