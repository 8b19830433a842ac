#!/usr/bin/env bash
# bench/rehearse.sh: what rehearsing a policy costs (snapshot, plan from a
# snapshot, -at horizons, -baseline, ghprune test), measured against the
# simulator (cmd/ghprune-sim) on loopback, on the wall clock.
#
# Usage: bench/rehearse.sh [PACKAGES [VERSIONS [CONTAINERS]]]
#   defaults 100 npm packages and 10 container packages, each with 200 old
#   versions (older than 30 days) and one new one.
#
# Prints one line per step: requests the simulator answered (charged: not
# 304, what GitHub counts against the primary limit), wall time, peak RSS
# (GNU time), and, for the snapshot, its size. Steps:
#   snapshot, cold   ghprune snapshot with a new journal (no cache)
#   live plan        ghprune plan against the simulator
#   snapshot, warm   ghprune snapshot after it, with the plan's journal: its
#                    HTTP and manifest caches answer (304s, not charged)
#   plan -snapshot   the same plan from the file, simulator stopped
#   horizons         plan -snapshot -at +7d,+30d,+90d
#   baseline         plan -snapshot -baseline OLD (older_than 60d vs 30d)
#   test             ghprune test of 10,000 synthetic cases (no snapshot)
# Needs go, curl, jq and GNU time (/usr/bin/time).
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
packages=${1:-100} versions=${2:-200} containers=${3:-10}
work=$(mktemp -d /tmp/ghprune-rehearse.XXXXXX)
token=ghp_benchrehearse00000000000000000000000
sim_pid=""
cleanup() {
	[[ -n $sim_pid ]] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

for tool in go curl jq /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "rehearse.sh: needs $tool" >&2; exit 1; }
done
(cd "$root" && go build -o "$work/ghprune" ./cmd/ghprune && go build -o "$work/sim" ./cmd/ghprune-sim)

"$work/sim" -token "$token" -packages "$packages" -versions "$versions" -containers "$containers" >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
url=""
for _ in $(seq 300); do
	url=$(head -n 1 "$work/sim.out" 2>/dev/null || true)
	[[ $url == http://* ]] && break
	kill -0 "$sim_pid" 2>/dev/null || { echo "rehearse.sh: ghprune-sim exited: $(cat "$work/sim.err")" >&2; exit 1; }
	sleep 0.1
done
[[ $url == http://* ]] || { echo "rehearse.sh: ghprune-sim did not start" >&2; exit 1; }
export GITHUB_TOKEN=$token

config() { # config FILE OLDER_THAN [JOURNAL]
	cat >"$1" <<EOF
version: 1
github: {api_url: "$url", registry_url: "$url"}
state: {path: ${3:-$work/journal.db}}
policies:
  - name: npm
    select: {owner: acme, owner_type: org, package_type: npm}
    protect: {keep_at_least: 1}
    delete: [{name: old, older_than: $2}]
  - name: images
    select: {owner: acme, owner_type: org, package_type: container}
    protect: {tags: [latest]}
    delete: [{name: old, untagged: true, older_than: $2}]
EOF
}
config "$work/new.yaml" 30d
config "$work/old.yaml" 60d
config "$work/cold.yaml" 30d "$work/cold.db"

charged() { curl -fsS "$url/_sim/stats" | jq -r '"\(.Requests) (\([.ByStatus | to_entries[] | select(.key != "304") | .value] | add // 0) charged)"'; }
reset() { curl -fsS -X POST "$url/_sim/reset-stats" >/dev/null; }

# step NAME ARGS...: runs ghprune ARGS, prints requests, wall and peak RSS.
step() {
	local name=$1 reqs
	shift
	[[ -n $sim_pid ]] && reset
	/usr/bin/time -f '%e %M' -o "$work/time" "$work/ghprune" "$@" >"$work/out" 2>"$work/err" || [[ $? == 3 ]] || { cat "$work/err" >&2; exit 1; }
	read -r wall rss <"$work/time"
	if [[ -n $sim_pid ]]; then reqs=$(charged); else reqs="0 (simulator stopped)"; fi
	printf '%-16s requests %-24s wall %6ss  peak RSS %4d MiB\n' "$name" "$reqs" "$wall" $((rss / 1024))
}

echo "rehearse.sh: $packages npm + $containers container packages x $versions old versions"
step "snapshot, cold" snapshot -config "$work/cold.yaml" -o "$work/cold.json.gz"
step "live plan" plan -config "$work/new.yaml" -format json -o "$work/live.json"
step "snapshot, warm" snapshot -config "$work/new.yaml" -o "$work/snap.json.gz"
echo "                 snapshot size $(du -k "$work/snap.json.gz" | cut -f1) KiB gzip"
kill -TERM "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=""
unset GITHUB_TOKEN
step "plan -snapshot" plan -config "$work/new.yaml" -snapshot "$work/snap.json.gz" -format json -o "$work/off.json"
a=$(jq -c '[.policies[].packages[].decisions[] | [.version_id, .action, .rule]] | sort' "$work/live.json" | sha256sum)
b=$(jq -c '[.policies[].packages[].decisions[] | [.version_id, .action, .rule]] | sort' "$work/off.json" | sha256sum)
if [[ $a == "$b" ]]; then
	echo "                 decisions identical to the live plan"
else
	echo "rehearse.sh: the plan from the snapshot decides otherwise than the live plan" >&2
	exit 1
fi
step "horizons" plan -config "$work/new.yaml" -snapshot "$work/snap.json.gz" -at +7d,+30d,+90d -format json
step "baseline" plan -config "$work/new.yaml" -baseline "$work/old.yaml" -snapshot "$work/snap.json.gz" -format json
echo "                 $(jq -r '.summary | "\(.differ) versions differ (baseline deletes \(.delete_before), new \(.delete_after))"' "$work/out")"

# 10,000 synthetic cases over 100 packages of 100 versions.
{
	echo "packages:"
	for p in $(seq 100); do
		printf '  - owner: acme\n    name: syn-%d\n    package_type: npm\n    versions:\n' "$p"
		for v in $(seq 100); do printf '      - {name: 1.0.%d, age: %dd}\n' "$v" "$v"; done
	done
	echo "tests:"
	for p in $(seq 100); do
		for v in $(seq 100); do
			if ((v > 30)); then e=delete; else e=keep; fi
			if ((v == 1)); then e=keep; fi
			printf '  - {policy: npm, package: syn-%d, version: 1.0.%d, expect: %s}\n' "$p" "$v" "$e"
		done
	done
} >"$work/syn.tests.yaml"
step "test (10k)" test -config "$work/new.yaml" -tests "$work/syn.tests.yaml" -format table
tail -n 1 "$work/out" | sed 's/^/                 /'
