#!/usr/bin/env bash
# Quickstart: a local cluster on the embedded SQLite backend and the main job, end to end.
#   1. install and build;  2. start tauth;  3. create a bot and its one-time token;
#   4. a host tbot writes sshd's host key/cert and registers node1;  5. start sshd;
#   6. tbot one-shot (the reference guide's legacy flags) writes the identity output;
#   7. ssh into node1.<cluster> through the written ssh_config.
# Everything lives under $QS_DIR (default ./quickstart-demo) and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash scripts/setup.sh
./node_modules/.bin/bun scripts/build.ts

QS_DIR=${QS_DIR:-$ROOT/quickstart-demo}
CLUSTER=${CLUSTER:-quickstart.test}
rm -rf "$QS_DIR" && mkdir -p "$QS_DIR" && chmod 700 "$QS_DIR"
free_port() { ./node_modules/.bin/bun -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
AUTH_PORT=$(free_port); SSH_PORT=$(free_port)
LOGIN=$(id -un)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Start tauth for cluster $CLUSTER on 127.0.0.1:$AUTH_PORT (SQLite in $QS_DIR/auth)"
./dist/tauth start --data-dir "$QS_DIR/auth" --listen "127.0.0.1:$AUTH_PORT" --cluster-name "$CLUSTER" >"$QS_DIR/tauth.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "Auth service is listening" "$QS_DIR/tauth.log" && break; sleep 0.1; done
export TELEPORT_AUTH_SERVER="127.0.0.1:$AUTH_PORT" TELEPORT_IDENTITY_FILE="$QS_DIR/auth/admin-identity"
./dist/tctl status
PIN=$(./dist/tctl status | awk '/CA pin/{print $3}')

step "Create the bot: tctl bots add robot --roles=access --logins=$LOGIN"
TOKEN=$(./dist/tctl bots add robot --roles=access --logins="$LOGIN" --format=json | jq -r .token_id)
echo "token created (single use, 1h); bots:"; ./dist/tctl bots ls

step "A host bot provides sshd's host key, certificate and user CA, and registers node1"
cat >"$QS_DIR/host-role.yaml" <<YAML
kind: role
version: v7
metadata:
  name: host-certifier
spec:
  allow:
    rules:
      - resources: [host_cert]
        verbs: [create]
YAML
./dist/tctl create "$QS_DIR/host-role.yaml"
HOST_TOKEN=$(./dist/tctl bots add node1 --roles=host-certifier --format=json | jq -r .token_id)
cat >"$QS_DIR/host-tbot.yaml" <<YAML
version: v2
auth_server: 127.0.0.1:$AUTH_PORT
onboarding:
  join_method: token
  token: $HOST_TOKEN
  ca_pins: [$PIN]
storage:
  type: directory
  path: $QS_DIR/host-data
oneshot: true
services:
  - type: ssh_host
    principals: [node1]
    ssh_address: 127.0.0.1:$SSH_PORT
    destination:
      type: directory
      path: $QS_DIR/host
YAML
./dist/tbot start -c "$QS_DIR/host-tbot.yaml"
./dist/tctl nodes ls

step "Start sshd on 127.0.0.1:$SSH_PORT with those credentials"
mkdir -p /run/sshd 2>/dev/null || true
cat >"$QS_DIR/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $QS_DIR/host/ssh_host
HostCertificate $QS_DIR/host/ssh_host-cert.pub
TrustedUserCAKeys $QS_DIR/host/ssh_host-user-ca.pub
PidFile $QS_DIR/sshd.pid
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
CONF
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
"$SSHD" -D -e -f "$QS_DIR/sshd_config" 2>"$QS_DIR/sshd.log" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "Server listening" "$QS_DIR/sshd.log" && break; sleep 0.1; done

step "The main job: tbot one-shot with the guide's legacy flags"
./dist/tbot start \
  --data-dir="$QS_DIR/tbot-data" \
  --destination-dir="$QS_DIR/tbot-user" \
  --token="$TOKEN" \
  --join-method=token \
  --auth-server="127.0.0.1:$AUTH_PORT" \
  --ca-pin="$PIN" \
  --oneshot
ls "$QS_DIR/tbot-user"
ssh-keygen -L -f "$QS_DIR/tbot-user/key-cert.pub" | sed -n '2,9p'

step "ssh -F $QS_DIR/tbot-user/ssh_config $LOGIN@node1.$CLUSTER"
ssh -F "$QS_DIR/tbot-user/ssh_config" -o StrictHostKeyChecking=yes -o BatchMode=yes "$LOGIN@node1.$CLUSTER" \
  'echo "Hello from $(hostname) as $(id -un), via a certificate that tbot wrote"'
step "Done. Logs and files are in $QS_DIR"
