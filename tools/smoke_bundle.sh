#!/usr/bin/env bash
# Smoke test of the one-folder bundle alone (no Python): version, init, enter, export, verify.
set -euo pipefail
bundle="$(cd "$(dirname "$0")/.." && pwd)/dist/town-returns/town-returns"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export XDG_DATA_HOME="$work/data" QT_QPA_PLATFORM=offscreen
"$bundle" --version
"$bundle" --db town.sqlite3 init --town 莞城
"$bundle" --db town.sqlite3 profile --head 王五 --stats-head 赵六 --preparer 李四
echo "city-root-passphrase" > root.pass
echo "town-passphrase" > town.pass
"$bundle" city init --out city --passphrase-file root.pass
"$bundle" city issue --root city/city_root.p12 --root-passphrase-file root.pass --town 莞城 --out 莞城.p12 --passphrase-file town.pass
"$bundle" --db town.sqlite3 identity import 莞城.p12 --passphrase-file town.pass
"$bundle" --db town.sqlite3 enter --quarter 2021Q1 card_holders=150000 yuecai_certified=8 nanyue_trained=66 \
    mediation_cases=10 mediation_success=9 arbitration_carried=0 arbitration_received=5 arbitration_closed=5 inspection_carried=0 inspection_received=2 inspection_closed=2
"$bundle" --db town.sqlite3 export --quarter 2021Q1 --out out --passphrase-file town.pass
"$bundle" verify --trust city/city_root.pem out/*
set +e
timeout 8 "$bundle" --db town.sqlite3
status=$?
set -e
[ "$status" -eq 124 ] || { echo "the window did not stay open (exit $status)"; exit 1; }
echo "bundle smoke test passed"
