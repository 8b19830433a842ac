#!/usr/bin/env bash
# bench/citizen.sh: how good a citizen of a shared token ghprune is, measured
# against the simulator (cmd/ghprune-sim) on loopback, on the wall clock.
#
# Usage:
#   bench/citizen.sh              build ghprune from the working tree
#   bench/citizen.sh REF          build it from a git ref (HEAD, a branch, a
#                                 commit) in a temporary worktree under /tmp,
#                                 removed afterwards
#   bench/citizen.sh PATH         use the ghprune binary at PATH, or build
#                                 ./cmd/ghprune in the source tree at PATH
#
# ghprune-sim is always built from the working tree. Every scenario starts a
# fresh ghprune-sim (org acme, npm packages of old versions that a rule
# `older_than: 30d` deletes, plus one new version each), writes a config into
# a temporary directory (api_url and registry_url the simulator's URL, the
# token in GITHUB_TOKEN, a fresh journal there), runs ghprune and prints one
# line of figures read from GET /_sim/stats (charged = API answers other
# than 304, what GitHub counts against the primary limit):
#
#   a  stricter server: apply 60 deletes paced at mutations_per_minute: 180
#      (3/s) to a server whose secondary limit wants 500ms between mutations
#      (2/s). Secondary-limit refusals, deletes, charged requests per delete,
#      exit code, wall time.
#   b  small primary budget: apply 60 deletes with budget_share: 0.5 against
#      -primary-limit 40 and a 1-minute window (-window 1m stands for
#      GitHub's hour). Deletes done, exit code, and the most requests used in
#      any window (MaxWindowUsed) against budget_share of the limit.
#   c  unchanged re-plan from a new process: `ghprune plan` of 10 packages x
#      200 versions, then the same plan again from a new process with the
#      same config and journal. Charged requests of each, and the second as a
#      percentage of the first.
#   d  memory: `ghprune plan -format json -o FILE` of 30 and 60 packages of
#      1,000 versions, each with a fresh journal; peak RSS (Maximum resident
#      set size of /usr/bin/time -v; the median of REPEAT runs) of each and
#      the ratio 60k/30k.
#
# Environment: KEEP=1 keeps the work directory (configs, journals, reports,
# logs) and prints its path; SCENARIOS="a c" runs only those; REPEAT=N plans
# each size of d N times (default 5) and reports the median. Needs go, git,
# curl, jq and GNU time (/usr/bin/time).
set -euo pipefail

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
work=$(mktemp -d /tmp/ghprune-citizen.XXXXXX)
worktree=""
sim_pid=""
# token is the one token ghprune-sim accepts, shaped like a classic PAT.
token=ghp_benchcitizen000000000000000000000000

cleanup() {
	if [[ -n $sim_pid ]]; then
		kill -TERM "$sim_pid" 2>/dev/null || true
		wait "$sim_pid" 2>/dev/null || true
	fi
	if [[ -n $worktree ]]; then
		git -C "$root" worktree remove --force "$worktree" 2>/dev/null || rm -rf "$worktree"
		git -C "$root" worktree prune
	fi
	if [[ ${KEEP:-} == 1 ]]; then
		echo "work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "citizen.sh: $*" >&2
	exit 1
}

for tool in go git curl jq /usr/bin/time; do
	command -v "$tool" >/dev/null || die "needs $tool"
done

# build_ghprune puts the ghprune under test at $work/ghprune and sets label.
build_ghprune() {
	local target=${1:-}
	if [[ -z $target ]]; then
		label="working tree ($(git -C "$root" rev-parse --short HEAD) + changes)"
		(cd "$root" && go build -o "$work/ghprune" ./cmd/ghprune) || die "the working tree does not build"
	elif [[ -f $target && -x $target ]]; then
		label="binary $target"
		cp "$target" "$work/ghprune"
	elif [[ -d $target && -d $target/cmd/ghprune ]]; then
		label="source tree $target"
		(cd "$target" && go build -o "$work/ghprune" ./cmd/ghprune) || die "$target does not build"
	else
		local rev
		rev=$(git -C "$root" rev-parse --verify --quiet "$target^{commit}") || die "$target is neither a binary, a source tree nor a git ref"
		label="$target ($(git -C "$root" rev-parse --short "$rev"))"
		worktree=$(mktemp -d /tmp/ghprune-citizen-src.XXXXXX)
		git -C "$root" worktree add --quiet --detach "$worktree" "$rev"
		(cd "$worktree" && go build -o "$work/ghprune" ./cmd/ghprune) || die "$target does not build"
		git -C "$root" worktree remove --force "$worktree"
		worktree=""
	fi
}

build_ghprune "${1:-}"
(cd "$root" && go build -o "$work/sim" ./cmd/ghprune-sim) || die "ghprune-sim does not build"

# start_sim ARGS... starts ghprune-sim and sets url and GITHUB_TOKEN.
start_sim() {
	: >"$dir/sim.out"
	"$work/sim" -token "$token" "$@" >"$dir/sim.out" 2>"$dir/sim.err" &
	sim_pid=$!
	local i
	for ((i = 0; i < 300; i++)); do
		if [[ -s $dir/sim.out ]] && url=$(head -n 1 "$dir/sim.out") && [[ $url == http://* ]]; then
			export GITHUB_TOKEN=$token
			return
		fi
		kill -0 "$sim_pid" 2>/dev/null || die "ghprune-sim exited: $(cat "$dir/sim.err")"
		sleep 0.1
	done
	die "ghprune-sim did not start"
}

stop_sim() {
	kill -TERM "$sim_pid"
	wait "$sim_pid" || true
	sim_pid=""
}

simstat() { curl -fsS "$url/_sim/stats" | jq -r "$1"; }
reset_stats() { curl -fsS -X POST "$url/_sim/reset-stats"; }

# write_config MODE [LIMITS...] writes $dir/ghprune.yaml; LIMITS are lines
# of the top-level limits: mapping.
write_config() {
	local mode=$1
	shift
	{
		cat <<EOF
version: 1
github:
  api_url: $url
  registry_url: $url
state:
  path: $dir/journal.db
EOF
		if (($# > 0)); then
			echo "limits:"
			printf '  %s\n' "$@"
		fi
		cat <<EOF
policies:
  - name: old
    mode: $mode
    select: {owner: acme, owner_type: org, package_type: npm}
    delete:
      - {name: old, older_than: 30d}
    limits: {max_deletes_per_run: 100000}
EOF
	} >"$dir/ghprune.yaml"
}

# ghprune ARGS... runs the ghprune under test with the scenario's config,
# setting code (exit code) and secs (wall time); its stderr goes to a log.
# With RSS=FILE it runs under /usr/bin/time -v, which writes FILE.
ghprune() {
	local cmd=$1
	shift
	local t0=$EPOCHREALTIME
	local timer=()
	[[ -n ${RSS:-} ]] && timer=(/usr/bin/time -v -o "$RSS")
	code=0
	timeout 20m "${timer[@]}" "$work/ghprune" "$cmd" -config "$dir/ghprune.yaml" "$@" 2>>"$dir/ghprune.err" || code=$?
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
}

# scenario NAME says whether SCENARIOS selects NAME (all when unset) and
# makes its directory, $dir.
scenario() {
	[[ -z ${SCENARIOS:-} || " $SCENARIOS " == *" $1 "* ]] || return 1
	dir=$work/$1
	mkdir -p "$dir"
}

echo "ghprune: $label; ghprune-sim: working tree; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ)"

if scenario a; then
	start_sim -packages 1 -versions 60 -secondary-spacing 500ms
	write_config enforce "mutations_per_minute: 180"
	ghprune apply -format json -o "$dir/report.json"
	deletes=$(simstat .Deletes)
	echo "a stricter server (180/min vs 2/s): secondary-limit refusals $(simstat .SecondaryLimited), deletes $deletes of 60," \
		"charged per delete $(simstat "if .Deletes > 0 then (.Charged / .Deletes * 100 | round / 100) else \"n/a (\(.Charged) charged)\" end")," \
		"exit $code, wall ${secs}s"
	stop_sim
fi

if scenario b; then
	start_sim -packages 1 -versions 60 -primary-limit 40 -window 1m
	write_config enforce "budget_share: 0.5"
	ghprune apply -format json -o "$dir/report.json"
	max=$(simstat .MaxWindowUsed)
	over=no
	((max * 2 > 40)) && over=yes
	echo "b small primary budget (40/window of 1m, budget_share 0.5): deletes $(simstat .Deletes) of 60, exit $code," \
		"most used in a window $max of 40 (over budget_share: $over), primary-limit refusals $(simstat .RateLimited), wall ${secs}s"
	stop_sim
fi

if scenario c; then
	start_sim -packages 10 -versions 200
	write_config plan
	ghprune plan -format json -o "$dir/plan1.json"
	code1=$code
	first=$(simstat .Charged)
	reset_stats
	ghprune plan -format json -o "$dir/plan2.json"
	second=$(simstat .Charged)
	echo "c unchanged re-plan from a new process (10 x 200 versions): charged first $first (exit $code1)," \
		"second $second (exit $code, $(simstat .NotModified) answered 304), second/first $(awk -v a="$second" -v b="$first" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }')"
	stop_sim
fi

if scenario d; then
	# Peak RSS varies from run to run with the GC's timing: each size is
	# planned REPEAT times (5 by default), each with a fresh journal, and the
	# median counts.
	repeat=${REPEAT:-5}
	line="d memory (plan -format json -o FILE, median of $repeat):"
	declare -A kib
	for n in 30 60; do
		dir=$work/d$n
		mkdir -p "$dir"
		start_sim -packages "$n" -versions 1000
		runs=()
		for ((i = 1; i <= repeat; i++)); do
			dir=$work/d$n/$i
			mkdir -p "$dir"
			write_config plan
			reset_stats
			RSS=$dir/time.txt ghprune plan -format json -o "$dir/plan.json"
			((code == 0)) || die "plan of ${n}k versions exited $code: $(tail -n 3 "$dir/ghprune.err")"
			runs+=("$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/time.txt")")
		done
		kib[$n]=$(printf '%s\n' "${runs[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
		mib=$(printf '%s\n' "${runs[@]}" | awk '{ printf "%s%.0f", (NR > 1 ? "/" : ""), $1 / 1024 }')
		line+=" ${n}k versions peak RSS $(awk -v k="${kib[$n]}" 'BEGIN { printf "%.0f", k / 1024 }') MiB (runs $mib MiB; last ${secs}s, $(simstat .Charged) charged);"
		stop_sim
	done
	echo "$line ratio 60k/30k $(awk -v a="${kib[60]}" -v b="${kib[30]}" 'BEGIN { printf "%.2fx", a / b }')"
fi
