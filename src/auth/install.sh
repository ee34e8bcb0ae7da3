#!/usr/bin/env bash
# tbot installer for cluster "@CLUSTER@", served by its auth service at @ADDR@.
#
#   curl -fsSL --cacert host-ca.pem https://@ADDR@/scripts/install.sh | sudo bash
#   curl -fsSL --cacert host-ca.pem https://@ADDR@/scripts/install.sh | sudo bash -s -- --token=TOKEN
#
# host-ca.pem: "tctl auth export --type=tls-host" (curl -k only for development). This script
# downloads the package for this host from the same auth service, trusting only the CA below,
# checks its SHA-256 against the table below, and installs it with dpkg or rpm. With --token it
# also writes /etc/tbot.yaml (identity output in --destination-dir) and starts tbot via systemd.
#
# Options: --token=T  --join-method=token|bound_keypair  --registration-secret=S
#          --destination-dir=DIR (default /opt/machine-id)
# Environment: TBOT_INSTALL_ROOT=DIR installs into another root (dpkg/rpm --root; starts
#   nothing). TBOT_PACKAGE_FORMAT=deb|rpm overrides the detection. TELEPORT_ANONYMOUS_TELEMETRY
#   is accepted and ignored: neither this script nor tbot sends anything anywhere.
set -euo pipefail

CLUSTER='@CLUSTER@'
AUTH_ADDR='@ADDR@'
CA_PIN='@CA_PIN@'
# format arch file sha256 size, newest first
PACKAGES='
@PACKAGES@
'

info() { echo "install.sh: $*" >&2; }
die() { echo "install.sh: ERROR: $*" >&2; exit 1; }

TOKEN="" JOIN_METHOD="token" SECRET="" DEST_DIR="/opt/machine-id"
while [ $# -gt 0 ]; do
  case "$1" in
    --token=*) TOKEN="${1#*=}" ;;
    --join-method=*) JOIN_METHOD="${1#*=}" ;;
    --registration-secret=*) SECRET="${1#*=}" ;;
    --destination-dir=*) DEST_DIR="${1#*=}" ;;
    --token | --join-method | --registration-secret | --destination-dir)
      [ $# -ge 2 ] || die "$1 needs a value"
      set -- "$1=$2" "${@:3}"
      continue
      ;;
    *) die "unknown option $1 (options: --token, --join-method, --registration-secret, --destination-dir)" ;;
  esac
  shift
done
case "$JOIN_METHOD" in token | bound_keypair) ;; *) die "--join-method must be token or bound_keypair" ;; esac
# These go into a YAML file: keep them to characters that need no quoting.
for v in "$TOKEN" "$SECRET"; do
  [[ "$v" =~ ^[A-Za-z0-9._:-]*$ ]] || die "token and secret may hold only letters, digits and . _ : -"
done
[[ "$DEST_DIR" =~ ^/[A-Za-z0-9._/-]*$ ]] || die "--destination-dir must be an absolute path of plain characters"

ROOT="${TBOT_INSTALL_ROOT:-}"
[ -n "$ROOT" ] || [ "$(id -u)" = 0 ] || die "run as root: curl ... | sudo bash"
for c in curl sha256sum awk; do command -v "$c" >/dev/null 2>&1 || die "$c is needed"; done

detect_format() {
  if [ -n "${TBOT_PACKAGE_FORMAT:-}" ]; then echo "$TBOT_PACKAGE_FORMAT"; return; fi
  local ids=""
  [ -r "$ROOT/etc/os-release" ] && ids="$(. "$ROOT/etc/os-release" && echo "${ID:-} ${ID_LIKE:-}")"
  case " $ids " in
    *" debian "* | *" ubuntu "*) echo deb; return ;;
    *" rhel "* | *" fedora "* | *" centos "* | *" suse "* | *" amzn "*) echo rpm; return ;;
  esac
  if command -v dpkg >/dev/null 2>&1; then echo deb
  elif command -v rpm >/dev/null 2>&1; then echo rpm
  else die "neither dpkg nor rpm found; set TBOT_PACKAGE_FORMAT=deb|rpm"; fi
}
FORMAT="$(detect_format)"
case "$FORMAT/$(uname -m)" in
  deb/x86_64) ARCH=amd64 ;;
  deb/aarch64) ARCH=arm64 ;;
  rpm/*) ARCH="$(uname -m)" ;;
  *) die "unsupported package format or machine: $FORMAT/$(uname -m)" ;;
esac

read -r NAME SHA SIZE < <(printf '%s\n' "$PACKAGES" | awk -v f="$FORMAT" -v a="$ARCH" '$1 == f && $2 == a { print $3, $4, $5; exit }') || true
[ -n "${NAME:-}" ] || die "the auth service at $AUTH_ADDR serves no $FORMAT package for $ARCH (its operator starts tauth with --packages-dir)"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/cluster-ca.pem" <<'TBOT_CLUSTER_CA'
@CA_PEM@
TBOT_CLUSTER_CA

info "downloading $NAME ($SIZE bytes) from $AUTH_ADDR (cluster $CLUSTER, CA $CA_PIN)"
curl -fsSL --proto '=https' --tlsv1.2 --cacert "$TMP/cluster-ca.pem" -o "$TMP/$NAME" "https://$AUTH_ADDR/packages/$NAME" ||
  die "download of https://$AUTH_ADDR/packages/$NAME failed"
GOT="$(sha256sum "$TMP/$NAME" | awk '{ print $1 }')"
[ "$GOT" = "$SHA" ] || die "$NAME has SHA-256 $GOT, expected $SHA: not installing it"
info "SHA-256 verified: $SHA"

ROOT_FLAG=()
[ -z "$ROOT" ] || ROOT_FLAG=(--root="$ROOT")
if [ "$FORMAT" = deb ]; then
  if ! dpkg ${ROOT_FLAG[@]+"${ROOT_FLAG[@]}"} -i "$TMP/$NAME"; then
    # dpkg does not fetch dependencies; apt does, and finishes the configuration.
    [ -z "$ROOT" ] && command -v apt-get >/dev/null 2>&1 || die "dpkg -i $NAME failed"
    apt-get install -f -y || die "dpkg -i $NAME failed and apt-get -f install could not fix it"
  fi
else
  # -U --replacepkgs: installs, upgrades, or reinstalls the same version.
  rpm ${ROOT_FLAG[@]+"${ROOT_FLAG[@]}"} -U --replacepkgs "$TMP/$NAME" || die "rpm -U $NAME failed"
fi
info "installed $NAME"

TBOT=""
for p in /usr/bin/tbot /usr/local/bin/tbot; do [ -x "$ROOT$p" ] && TBOT="$p" && break; done
[ -n "$TBOT" ] || info "warning: the package put no tbot in /usr/bin or /usr/local/bin"

CONFIG=/etc/tbot.yaml
# The package ships an example /etc/tbot.yaml carrying this marker: that one is ours to
# replace; any other file is the administrator's and is kept.
EXAMPLE_MARKER="# tbot package example:"
# Owner IDs from the target root's own account files (they may differ from this host's).
account_id() { awk -F: -v n="$2" '$1 == n { print $3 }' "$ROOT/etc/$1" 2>/dev/null || true; }
if [ -n "$TOKEN" ]; then
  if [ -e "$ROOT$CONFIG" ] && ! grep -q "^$EXAMPLE_MARKER" "$ROOT$CONFIG"; then
    info "$CONFIG exists: keeping it (remove it to have it written from --token)"
  else
    mkdir -p "$ROOT/etc"
    (
      umask 077
      {
        echo "# written by install.sh from $AUTH_ADDR"
        echo "version: v2"
        echo "auth_server: $AUTH_ADDR"
        echo "onboarding:"
        echo "  join_method: $JOIN_METHOD"
        echo "  token: $TOKEN"
        echo "  ca_pins:"
        echo "    - $CA_PIN"
        if [ -n "$SECRET" ]; then
          echo "  bound_keypair:"
          echo "    registration_secret: $SECRET"
        fi
        echo "storage:"
        echo "  type: directory"
        echo "  path: /var/lib/teleport/bot"
        echo "services:"
        echo "  - type: identity"
        echo "    destination:"
        echo "      type: directory"
        echo "      path: $DEST_DIR"
      } >"$ROOT$CONFIG.new"
    )
    # tbot.service runs as teleport: it must read the config (0640, group teleport) and write
    # the destination directory.
    TUID=$(account_id passwd teleport)
    TGID=$(account_id group teleport)
    if [ -n "$TGID" ]; then chgrp "$TGID" "$ROOT$CONFIG.new" && chmod 0640 "$ROOT$CONFIG.new"; fi
    mv -f "$ROOT$CONFIG.new" "$ROOT$CONFIG"
    mkdir -p "$ROOT$DEST_DIR"
    if [ -n "$TUID" ] && [ -n "$TGID" ]; then chown "$TUID:$TGID" "$ROOT$DEST_DIR"; fi
    chmod 0700 "$ROOT$DEST_DIR"
    info "wrote $CONFIG ($( [ -n "$TGID" ] && echo "0640, group teleport" || echo "0600"))"
  fi
fi

if [ -n "$TOKEN" ] && [ -z "$ROOT" ] && [ -n "$TBOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  # The package may ship tbot.service; if not, tbot writes one for this config.
  systemctl cat tbot.service >/dev/null 2>&1 || "$TBOT" install systemd -c "$CONFIG" --write
  systemctl daemon-reload
  systemctl enable --now tbot
  info "tbot is running (systemctl status tbot); its identity goes to $DEST_DIR"
  exit 0
fi
echo "install.sh: next steps" >&2
if [ -z "$TOKEN" ]; then
  cat >&2 <<EOF
  - write $CONFIG, e.g. tbot configure --auth-server=$AUTH_ADDR --ca-pin=$CA_PIN \\
      --join-method=token --token=<token> --destination-dir=$DEST_DIR -o $CONFIG
    (or run this script again with --token=<token>)
EOF
fi
cat >&2 <<EOF
  - start it: systemctl enable --now tbot
    (where systemd is not running: tbot start -c $CONFIG; one-shot: add --oneshot)
EOF
