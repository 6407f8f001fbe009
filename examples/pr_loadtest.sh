#!/usr/bin/env bash
# Pull-request load test: the PR's base and head, side by side on ONE runner, interleaved.
#
#   examples/pr_loadtest.sh [--dry-run] [--base REF] [--reuse-deps] [--users N]
#                           [--duration D] [--trials N] [--slo FILE] [--calibration FILE]
#                           [--out DIR]
#
# 1. checks out the base commit (--base, default main) in a second git worktree, with a
#    virtual environment of its own (--reuse-deps: the head's installed dependencies, only
#    the base's own code installed; quicker, for a local run or a PR that leaves the
#    dependencies alone);
# 2. starts both backends on 127.0.0.1 (free ports, their own databases, the same settings);
# 3. runs `goldenpath gate run --blue BASE --green HEAD`: a smoke check of head, then load
#    trials on base and head interleaved (B H B H ...) with the head's harness, so runner
#    speed and drift fall on both alike, and pairs are added while the verdict is
#    inconclusive;
# 4. writes `goldenpath report` on those trial directories, and ONE PR comment that later
#    pushes edit in place.
#
# In GitHub Actions (GH_TOKEN, PR_NUMBER and GITHUB_REPOSITORY set) the comment is posted
# with `gh api`; it carries the hidden marker <!-- goldenpath-report --> by which the next
# push finds and edits it. Anywhere else, or with --dry-run, the comment is printed.
# Everything it starts (backends by PID, the worktree) is removed when it exits.
#
# Exit code: the gate's (0 pass or warning, 1 fail, 2 unusable input, 3 inconclusive),
# so the check fails on a gate failure.
set -euo pipefail

MARKER="<!-- goldenpath-report -->"
BASE="${BASE_REF:-main}"
USERS=20
DURATION=10s
TRIALS=2
SLO=""
CALIBRATION=""
OUT=""
DRY_RUN=0
REUSE_DEPS=0
SETTINGS=(GOLDENPATH_AGENT_THINK_MS=50)   # the same simulated model on both sides
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --reuse-deps) REUSE_DEPS=1 ;;
    --base) BASE="$2"; shift ;;
    --users) USERS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --trials) TRIALS="$2"; shift ;;
    --slo) SLO="$2"; shift ;;
    --calibration) CALIBRATION="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "pr_loadtest.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

HEAD_DIR="$(git rev-parse --show-toplevel)"
cd "$HEAD_DIR"
if [ -n "${GOLDENPATH_PYTHON:-}" ]; then
  PY="$GOLDENPATH_PYTHON"
elif [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
else
  echo "pr_loadtest.sh: no .venv/bin/python (make setup, or set GOLDENPATH_PYTHON)" >&2
  exit 2
fi
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"
GP=("$PY" -m loadtests.cli)
if ! BASE_SHA="$(git rev-parse --verify --quiet "$BASE^{commit}")"; then
  echo "pr_loadtest.sh: --base $BASE: no such commit (fetch it first: git fetch origin $BASE)" >&2
  exit 2
fi
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/goldenpath-pr.XXXXXX")}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORKTREE="$OUT/base"
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  git -C "$HEAD_DIR" worktree remove --force "$WORKTREE" 2>/dev/null || true
  git -C "$HEAD_DIR" worktree prune 2>/dev/null || true
}
trap cleanup EXIT

echo "== base $BASE ($BASE_SHA) in a worktree: $WORKTREE" >&2
git worktree add --detach --quiet "$WORKTREE" "$BASE_SHA"
BASE_VENV="$OUT/base-venv"
if [ "$REUSE_DEPS" = 1 ]; then
  # Its own interpreter, the base's code first on the path, the head's dependencies after.
  "$PY" -m venv --without-pip "$BASE_VENV"
  SITE="$("$BASE_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  HEAD_SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$WORKTREE" >"$SITE/00-goldenpath-base.pth"
  echo "$HEAD_SITE" >"$SITE/10-head-dependencies.pth"
else
  "$PY" -m venv "$BASE_VENV"
  "$BASE_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$BASE_VENV/bin/python" -m pip install --quiet -e "$WORKTREE"
fi
BASE_PY="$BASE_VENV/bin/python"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_backend NAME PYTHON DIR: provision users, start `serve` in DIR (its PID kept for the
# cleanup), wait for /ready; the URL goes to $OUT/NAME.url.
start_backend() {
  local name="$1" python="$2" dir="$3" port
  port="$(free_port)"
  local env=(GOLDENPATH_DATABASE_URL="sqlite:///$OUT/$name.db" GOLDENPATH_ENVIRONMENT=dev
             GOLDENPATH_KDF_LOG2_N=8 GOLDENPATH_ACCESS_LOG=false "${SETTINGS[@]}")
  (cd "$dir" && env "${env[@]}" "$python" -m reference_backend users create --count "$USERS" \
     --prefix load --password load-password --if-exists replace) >"$OUT/$name-users.log" 2>&1
  (cd "$dir" && exec env "${env[@]}" "$python" -m reference_backend serve --host 127.0.0.1 \
     --port "$port") >"$OUT/$name-backend.log" 2>&1 &
  PIDS+=("$!")
  echo "$!" >"$OUT/$name.pid"
  echo "http://127.0.0.1:$port" >"$OUT/$name.url"
  "$PY" - "$port" <<'EOF'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/ready"
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            if resp.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(f"{url} did not answer 200 within 60 s")
EOF
}

echo "== starting the base and head backends" >&2
start_backend base "$BASE_PY" "$WORKTREE"
start_backend head "$PY" "$HEAD_DIR"
BASE_URL="$(cat "$OUT/base.url")"
HEAD_URL="$(cat "$OUT/head.url")"
echo "== base $BASE_URL (pid $(cat "$OUT/base.pid")), head $HEAD_URL (pid $(cat "$OUT/head.pid"))" >&2

echo "== gate run: $TRIALS trial pair(s) of $USERS users for $DURATION, interleaved" >&2
gate_rc=0
"${GP[@]}" gate run --blue "$BASE_URL" --green "$HEAD_URL" --users "$USERS" \
  --duration "$DURATION" --trials "$TRIALS" --out "$OUT/gate" \
  ${SLO:+--slo "$SLO"} ${CALIBRATION:+--calibration "$CALIBRATION"} >"$OUT/gate.txt" \
  || gate_rc=$?
cat "$OUT/gate.txt" >&2

echo "== report: head's trials against base's" >&2
if [ -d "$OUT/gate/blue" ] && [ -d "$OUT/gate/green" ]; then
  "${GP[@]}" report --baseline "$OUT/gate/blue" --candidate "$OUT/gate/green" \
    --out "$OUT/report" ${CALIBRATION:+--calibration "$CALIBRATION"} >&2
else
  mkdir -p "$OUT/report"
  echo "no load trials ran (see gate.txt)" >"$OUT/report/report.md"
fi

BODY="$OUT/comment.md"
{
  echo "$MARKER"
  echo "**Deployment gate, base \`${BASE_SHA:0:12}\` vs head \`$(git rev-parse --short=12 HEAD)\` on one runner:** \`$(grep '^gate:' "$OUT/gate.txt" || echo "gate: unusable input (exit $gate_rc)")\`"
  echo
  echo "<details><summary>Objectives</summary>"
  echo
  echo '```text'
  grep -v '^wrote ' "$OUT/gate.txt" || true
  echo '```'
  echo "</details>"
  echo
  head -c 60000 "$OUT/report/report.md"   # a comment holds at most 65,536 characters
} >"$BODY"

if [ "$DRY_RUN" = 1 ] || [ -z "${PR_NUMBER:-}" ] || [ -z "${GITHUB_REPOSITORY:-}" ] \
   || [ -z "${GH_TOKEN:-${GITHUB_TOKEN:-}}" ]; then
  echo "== would post this comment (dry run; results in $OUT):" >&2
  cat "$BODY"
else
  post_comment() {
    local comments="repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" existing
    existing=$(gh api --paginate "$comments" \
      --jq ".[] | select(.body | contains(\"$MARKER\")) | .id" | head -n 1)
    if [ -n "$existing" ]; then
      gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" \
        -F "body=@$BODY" >/dev/null && echo "== edited comment $existing" >&2
    else
      gh api --method POST "$comments" -F "body=@$BODY" >/dev/null \
        && echo "== posted a new comment" >&2
    fi
  }
  # A fork's token cannot comment: say so, and let the gate alone decide the check.
  post_comment || echo "pr_loadtest.sh: could not post the comment (read-only token?)" >&2
fi
exit "$gate_rc"
