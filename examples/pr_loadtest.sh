#!/usr/bin/env bash
# Pull-request load test: a short run of this checkout's backend, a report against the
# committed baseline, the gate, and ONE PR comment that later pushes edit in place.
#
#   examples/pr_loadtest.sh [--dry-run] [--users N] [--duration D] [--baseline DIR]
#                           [--slo FILE] [--out DIR]
#
# In GitHub Actions (GH_TOKEN, PR_NUMBER and GITHUB_REPOSITORY set) the comment is posted
# with `gh api`; it carries the hidden marker <!-- goldenpath-report --> by which the next
# push finds and edits it. Anywhere else, or with --dry-run, the comment is printed.
#
# Exit code: the gate's (0 pass or warning, 1 fail, 2 unusable input, 3 inconclusive),
# so the check fails on a gate failure.
set -euo pipefail

MARKER="<!-- goldenpath-report -->"
USERS=50            # the committed baselines are 50 users for 15 s
DURATION=15s
BASELINE=results/baselines/canonical
SLO=""
OUT=""
DRY_RUN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --users) USERS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --baseline) BASELINE="$2"; shift ;;
    --slo) SLO="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "pr_loadtest.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

if [ -n "${GOLDENPATH:-}" ]; then
  GP="$GOLDENPATH"
elif command -v goldenpath >/dev/null 2>&1; then
  GP=goldenpath
elif [ -x .venv/bin/goldenpath ]; then
  GP=.venv/bin/goldenpath
else
  echo "pr_loadtest.sh: no goldenpath command (make setup, or set GOLDENPATH)" >&2
  exit 2
fi
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/goldenpath-pr.XXXXXX")}"
mkdir -p "$OUT"

echo "== load run: $USERS users, $DURATION, embedded canonical backend" >&2
$GP run --scenario steady --users "$USERS" --duration "$DURATION" --factory canonical \
  --out "$OUT/run" --quiet >"$OUT/run.txt" || echo "load run ended early (see meta.json)" >&2

echo "== report against $BASELINE" >&2
$GP report --baseline "$BASELINE" --candidate "$OUT/run" --out "$OUT/report" >&2

echo "== gate" >&2
gate_rc=0
$GP gate --candidate "$OUT/run" --baseline "$BASELINE" ${SLO:+--slo "$SLO"} \
  --out "$OUT/gate" >"$OUT/gate.txt" || gate_rc=$?
cat "$OUT/gate.txt" >&2

BODY="$OUT/comment.md"
{
  echo "$MARKER"
  echo "**Deployment gate:** \`$(grep '^gate:' "$OUT/gate.txt" || echo "gate: unusable input (exit $gate_rc)")\`"
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
