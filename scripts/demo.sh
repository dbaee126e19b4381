#!/usr/bin/env bash
# Starts a complete Porthole on this machine: the broker with its embedded
# SQLite store, a virtual X display with a moving test pattern, and one agent
# enrolled against the broker. Everything runs until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
STATE=$PWD/.demo
LISTEN=${PORTHOLE_DEMO_LISTEN:-127.0.0.1:8443}
URL=http://$LISTEN

rm -rf "$STATE"
mkdir -p "$STATE"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# 1. A virtual display (Xvfb picks a free number itself).
exec 3> >(cat >"$STATE/display")
Xvfb -displayfd 3 -noreset -nolisten tcp -screen 0 1280x720x24 +extension MIT-SHM +extension DAMAGE +extension XTEST \
  >"$STATE/xvfb.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$STATE/display" ] && break; sleep 0.1; done
DISPLAY_NUM=:$(tr -d '\n' <"$STATE/display")
echo "demo: virtual display $DISPLAY_NUM (1280x720)"
DISPLAY=$DISPLAY_NUM "$BIN/porthole-testpattern" >"$STATE/pattern.log" 2>&1 &
pids+=($!)

# 2. The broker; its first run prints the admin password once.
"$BIN/porthole-broker" serve --listen "$LISTEN" --data-dir "$STATE/broker" >"$STATE/broker.out" 2>"$STATE/broker.log" &
pids+=($!)
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$URL/healthz" >/dev/null || { echo "demo: broker did not start:"; cat "$STATE/broker.log"; exit 1; }
PASSWORD=$(grep -A2 'password:' "$STATE/broker.out" | awk 'NF==1{print $1; exit}')

# 3. Enroll and start an agent on the virtual display.
export PORTHOLE_CONFIG=$STATE/cli.json
echo "$PASSWORD" | "$BIN/porthole" login --broker "$URL" --user admin --password-stdin >/dev/null
TOKEN=$("$BIN/porthole" token create --uses 1 --expires 1h --note demo --json | sed -E 's/.*"token":"([^"]+)".*/\1/')
DISPLAY=$DISPLAY_NUM "$BIN/porthole-agent" enroll --broker "$URL" --token "$TOKEN" --state-dir "$STATE/agent" >/dev/null

cat <<MSG

  Porthole is running.

    Portal:    $URL/
    Username:  admin
    Password:  $PASSWORD

  1. Open the portal and log in: the demo endpoint is listed in Inventory as online.
  2. Click Support (or open the device and click Screenshare).
  3. You are also the end user: this terminal asks whether to allow the session.
     Answer y, and the viewer shows the endpoint's virtual screen (a moving test pattern).
     Type "done" here to end it as the end user, or click Off in the viewer.

  CLI (already logged in):  PORTHOLE_CONFIG=$STATE/cli.json $BIN/porthole devices
  Logs: $STATE/*.log        Stop: Ctrl-C

MSG
# The agent runs in the foreground so its consent prompt and Done indicator
# use this terminal (a real endpoint shows desktop dialogs instead).
DISPLAY=$DISPLAY_NUM "$BIN/porthole-agent" run --state-dir "$STATE/agent" --prompt terminal --elevation-socket "$STATE/elevate.sock" 2>"$STATE/agent.log" || true
echo "demo: the agent exited; see $STATE/agent.log"
