#!/usr/bin/env bash
# `virtsnap report --html` and `virtsnap simulate --html` on history written
# by tests/store-fixture (creates, failures, a skip, a prune, an undeletable
# snapshot, a pin, hostile names): the page is self-contained and has one
# mark per history row in the window; headless Chromium parses it to the
# same marks and draws them (pixels in the marks' colours), and the
# screenshot is kept in the build directory as a test artifact.
set -u

VIRTSNAP=${VIRTSNAP:?VIRTSNAP must point at the virtsnap binary}
FIXTURE=${VS_STORE_FIXTURE:?VS_STORE_FIXTURE must point at tests/store-fixture}
HERE=$(cd "$(dirname "$0")" && pwd)
ARTIFACTS=${VS_BUILD_ROOT:-.}/test-artifacts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
export TZ=UTC VIRTSNAP_NOW=2026-03-10T12:00:00Z
failures=0
fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}
marks() { grep -o '<g class="mark"' "$1" | wc -l; }

"$FIXTURE" demo h.db
cat >p.yaml <<'YAML'
database: /nonexistent/history.db
timezone: UTC
policies:
  - name: daily
    schedule: "0 4 * * *"
    retention: {keep_last: 2, keep_daily: 7, keep_hourly: 24}
  - name: hourly
    schedule: hourly
    retention: {keep_last: 24}
YAML

# One mark per history row in the window, of the row's kind.
"$VIRTSNAP" report --html r.html -c p.yaml --database h.db --since 7d 2>err || fail "report: exit $? ($(cat err))"
[ -s err ] && fail "report: unexpected stderr: $(cat err)"
rows=$("$VIRTSNAP" history --database h.db --since 7d --format csv | tail -n +2 | wc -l)
[ "$rows" -eq 9 ] || fail "fixture: want 9 history rows, have $rows"
[ "$(marks r.html)" -eq "$rows" ] || fail "report: $(marks r.html) marks for $rows history rows"
for k in present:3 pruned:1 failed:2 skipped:1 pinned:1 undeletable:1; do
        n=$(grep -o "data-kind=\"${k%:*}\"" r.html | wc -l)
        [ "$n" -eq "${k#*:}" ] || fail "report: $n marks of kind ${k%:*}, want ${k#*:}"
done
grep -q '<title>[^<]*pruned: daily-20260308T040000Z (quiesced), pruned 2026-03-10T04:00:10+00:00: keep_last 2: 3rd newest' r.html ||
        fail "report: the pruned mark does not say when and why"
grep -q 'class="band"' r.html || fail "report: no retention band for daily"
grep -q 'keep_daily 7' r.html || fail "report: keep_daily band not labelled"
grep -qF 'retention: keep_last 24</p>' r.html || fail "report: hourly's rules not shown"
# Self-contained: no script, nothing fetched (the SVG namespace is a name, not a fetch).
grep -qi '<script' r.html && fail "report: has a script"
grep -oE '(src|href)=|url\(|https?://[^"]*' r.html | grep -vx 'http://www.w3.org/2000/svg' | grep -q . &&
        fail "report: refers to something outside the page: $(grep -oE '(src|href)=|url\(|https?://[^"]*' r.html | sort -u)"
# Hostile names are escaped, not markup.
grep -qF "o&#39;brien &quot;test&quot; ドメイン / &#39;; DROP TABLE snapshots; --" r.html ||
        fail "report: the odd domain and policy are not escaped"
# Filters and window.
"$VIRTSNAP" report --html w.html --database h.db --domain web1 --policy daily --since 7d || fail "report --domain: exit $?"
[ "$(marks w.html)" -eq 3 ] || fail "report --domain web1 --policy daily: $(marks w.html) marks, want 3"
"$VIRTSNAP" report --html n.html --database h.db --since 2026-03-10T05:00:00Z || fail "report --since TIME: exit $?"
[ "$(marks n.html)" -eq 2 ] || fail "report --since 05:00: $(marks n.html) marks, want 2 (the failure at 10:00, the skip at 11:00)"
"$VIRTSNAP" report --html - --database h.db --domain nosuch >empty.html 2>err || fail "report to stdout: exit $?"
grep -q "no attempt on domain 'nosuch'" err || fail "report --domain nosuch: no note on stderr"
[ "$(marks empty.html)" -eq 0 ] || fail "report --domain nosuch: has marks"
grep -q '</html>' empty.html || fail "report -: no page on stdout"

# Errors: exit 2 for usage, 1 for what cannot be read or written; no file left behind.
"$VIRTSNAP" report --database h.db >out 2>err
[ $? -eq 2 ] && grep -q -- '--html FILE is required' err || fail "report without --html: want exit 2 and a message"
"$VIRTSNAP" report --html x.html --database h.db --since yesterday >out 2>err
[ $? -eq 2 ] || fail "report --since yesterday: want exit 2"
"$VIRTSNAP" report --html x.html --database h.db --since 1d --until 2d >out 2>err
[ $? -eq 2 ] || fail "report --until before --since: want exit 2"
"$VIRTSNAP" report --html /nonexistent/dir/x.html --database h.db >out 2>err
[ $? -eq 1 ] && grep -q 'cannot create' err || fail "report into a missing directory: want exit 1 and a message ($(cat err))"
"$VIRTSNAP" report --html x.html --database nosuch.db >out 2>err
[ $? -eq 1 ] || fail "report --database nosuch.db: want exit 1"
[ -e x.html ] && fail "report: a failed run left x.html"
ls ./*.tmp.* >/dev/null 2>&1 && fail "report: left a temporary file"

# simulate --html: the same drawing of simulated days.
cat >s.yaml <<'YAML'
timezone: Europe/Berlin
policies:
  - name: gfs
    schedule: "0 */6 * * *"
    retention: {keep_last: 4, keep_daily: 7, keep_weekly: 4, keep_monthly: 2}
YAML
"$VIRTSNAP" simulate -c s.yaml -p gfs --days 30 --start 2026-03-01T00:00:00Z --html s.html >s.out 2>err ||
        fail "simulate --html: exit $? ($(cat err))"
read -r _ created _ removed _ kept _ <<<"$(tail -1 s.out)"
[ "$(marks s.html)" -eq "$created" ] || fail "simulate --html: $(marks s.html) marks for $created snapshots"
[ "$(grep -o 'data-kind="pruned"' s.html | wc -l)" -eq "$removed" ] || fail "simulate --html: pruned marks != removed $removed"
[ "$(grep -o 'data-kind="present"' s.html | wc -l)" -eq "$kept" ] || fail "simulate --html: held marks != kept $kept"
grep -q 'keep_weekly 4' s.html || fail "simulate --html: no weekly band"
"$VIRTSNAP" simulate -c s.yaml -p gfs --days 30 --start 2026-03-01T00:00:00Z --html - >s2.html || fail "simulate --html -: exit $?"
cmp -s s.html s2.html || fail "simulate --html -: differs from the file"
"$VIRTSNAP" simulate -c s.yaml -p gfs --days 30 --json --html - >out 2>err
[ $? -eq 2 ] || fail "simulate --json --html -: want exit 2"
cat >big.yaml <<'YAML'
policies:
  - name: often
    schedule: every 1m
    retention: {keep_last: 2}
YAML
"$VIRTSNAP" simulate -c big.yaml -p often --days 30 --html big.html >out 2>err
[ $? -eq 1 ] && grep -q 'too many to draw' err || fail "simulate --html over the mark limit: want exit 1 ($(cat err))"

# A real browser: Chromium parses the page to the same marks and draws them.
if ! command -v chromium >/dev/null; then
        fail "chromium (Debian package chromium) is not installed"
else
        browse() { chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/chromium" "$@" 2>>chromium.log; }
        browse --dump-dom "file://$tmp/r.html" >dom.html
        [ "$(marks dom.html)" -eq "$rows" ] || fail "chromium: $(marks dom.html) marks in the DOM, want $rows"
        grep -qF "o'brien \"test\" ドメイン" dom.html || fail "chromium: the odd domain's name is not text in the DOM"
        mkdir -p "$ARTIFACTS"
        browse --window-size=1050,1100 --screenshot="$ARTIFACTS/report.png" "file://$tmp/r.html" >/dev/null
        browse --window-size=1050,1100 --screenshot="$tmp/w.png" "file://$tmp/w.html" >/dev/null
        browse --window-size=1050,600 --screenshot="$ARTIFACTS/simulate.png" "file://$tmp/s.html" >/dev/null
        # Pixels in the colours of failed (D55E00), undeletable (000000 is
        # text too) and held (0072B2): the page with failures has more of
        # the failure colour than the one without (whose only one is the
        # legend's).
        read -r _ fail_all < <(python3 "$HERE/png-colours.py" "$ARTIFACTS/report.png" D55E00) || fail "png-colours report.png"
        read -r _ fail_web < <(python3 "$HERE/png-colours.py" "$tmp/w.png" D55E00) || fail "png-colours w.png"
        [ "${fail_web:-0}" -gt 0 ] || fail "chromium: no legend drawn (no failure colour at all)"
        [ "${fail_all:-0}" -gt "${fail_web:-0}" ] || fail "chromium: failure marks not drawn ($fail_all vs legend only $fail_web)"
        read -r _ held < <(python3 "$HERE/png-colours.py" "$ARTIFACTS/simulate.png" E69F00) || fail "png-colours simulate.png"
        [ "${held:-0}" -gt 1000 ] || fail "chromium: simulate page has few pruned-colour pixels (${held:-0})"
        echo "screenshots: $ARTIFACTS/report.png $ARTIFACTS/simulate.png"
fi

# Usage.
"$VIRTSNAP" report --frobnicate >out 2>err
[ $? -eq 2 ] || fail "report --frobnicate: want exit 2"
"$VIRTSNAP" report --help | head -1 | grep -q '^usage: virtsnap report --html FILE' || fail "report --help"

if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)" >&2
        exit 1
fi
echo "all passed"
