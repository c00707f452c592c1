#!/usr/bin/env bash
# Runs the shared peer benchmark (../shared/bench: a loopback nginx farm of generated RSS
# feeds; newsboat, sfeed and reader measured cold and warm) with this project's release
# binary as one more peer, and prints its Markdown table.
#
#   bench/compare.sh                         # 2000x20: feedcrawler, newsboat@8, sfeed@16, reader@16
#   SIZES=200x20,2000x20,10000x20 bench/compare.sh
#   PEERS="feedcrawler" SIZES=10000x20 bench/compare.sh
#
# Needs root (nginx on 127.0.0.10-13, apt-get for nginx-light/newsboat/sfeed) and Python 3.11.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_BENCH:-$here/../shared/bench}
[ -x "$shared/run.sh" ] || { echo "no shared peer harness at $shared (set SHARED_BENCH)" >&2; exit 2; }
cargo build --release --manifest-path "$here/Cargo.toml" >&2
export FEEDCRAWLER="$here/target/release/feedcrawler" FEEDCRAWLER_READY=1
exec "$shared/run.sh" --sizes "${SIZES:-2000x20}" \
  --peers "${PEERS:-feedcrawler,newsboat@8,sfeed@16,reader@16}" "$@"
