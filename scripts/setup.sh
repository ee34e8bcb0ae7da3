#!/usr/bin/env bash
# Install what builds and tests need, on a machine that has only Node and npm: Debian
# packages (one apt-get update, only when something is missing; needs root or sudo) and the
# pinned npm dependencies, Bun included.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(openssh-server openssh-client openssl jq procps)
# TPM joining: the tpm2-tss runtime tbot loads through bun:ffi (Debian 12 names), and for the
# tests a software TPM (swtpm, swtpm_setup, swtpm_localca) and tpm2-tools as an oracle.
APT_PACKAGES+=(libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-tcti-device0 libtss2-tcti-swtpm0 libtss2-mu0 libtss2-rc0)
APT_PACKAGES+=(swtpm swtpm-tools tpm2-tools)
# Packaging (scripts/package.ts: dpkg-deb is dpkg's, rpmbuild is in rpm), its checkers, and
# debootstrap for the clean Debian roots the package tests install into.
APT_PACKAGES+=(rpm lintian rpmlint debootstrap)
# The tests check the generated units with systemd-analyze verify (no running systemd needed).
APT_PACKAGES+=(systemd)
# Container image and install.sh: the image's CA bundle comes from ca-certificates; its layer
# and archive are made with tar, gzip, sha256sum; the tests unpack it with umoci, run it with
# runc (and unshare from util-linux), and install stand-in packages built with dpkg-deb (dpkg) and
# rpmbuild (rpm) through curl.
APT_PACKAGES+=(ca-certificates tar gzip coreutils util-linux curl rpm umoci runc)
# tauth's PostgreSQL backend: the tests start their own server (initdb, postgres, pg_basebackup
# for a standby) from /usr/lib/postgresql/15/bin, and use psql.
APT_PACKAGES+=(postgresql-15 postgresql-client-15)
# High availability tests: HAProxy in front of several tauth replicas, and libfaketime to run
# one replica with a skewed clock.
APT_PACKAGES+=(haproxy faketime)
# Outputs (Part 9): nginx verifies application certificates (ssl_verify_client); acl gives
# getfacl/setfacl to check (and, where libacl is absent, apply) readers' POSIX ACLs.
APT_PACKAGES+=(nginx acl)
# Workload API (Part 10): Debian's gRPC C-core for Python is one of the two client stacks the
# tests run against tbot's SPIFFE Workload API (the other is @grpc/grpc-js under Node).
APT_PACKAGES+=(python3-grpcio python3-protobuf protobuf-compiler libprotobuf-dev)
# Diagnostics (Part 11): promtool checks tbot's /metrics exposition, and the tests start a real
# Prometheus server (own port, own storage dir) that scrapes tbot and answers PromQL.
APT_PACKAGES+=(prometheus)
# Web console (Part 11): the browser tests drive Debian's chromium headless with playwright-core
# (no browser download).
APT_PACKAGES+=(chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]} from Debian packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# `npm ci` with the committed lockfile: exact versions, and the lockfile is never rewritten, so
# a fresh clone stays clean (the lockfile lists every platform's optional biome binary, as npm
# 11 writes it).
if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
