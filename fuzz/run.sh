#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a bounded time each, one after another.
#
#   fuzz/run.sh                    # every target, 60 s each
#   FUZZ_SECONDS=300 fuzz/run.sh saml_assertion jwt_assertion
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The toolchain is stable, so the nightly flags
# cargo-fuzz passes are allowed with RUSTC_BOOTSTRAP=1. Debug assertions are on (-a): integer
# overflow in a parser is a finding. Inputs that crash land in fuzz/artifacts/<target>/; turn
# each into a regression test beside the code (the property tests in src/ are the place) before
# fixing it. New corpus entries go to fuzz/corpus/<target>/ (not committed); fuzz/seeds/ holds
# the committed starting points.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(form client_auth jwt_assertion saml_assertion redirect_uri)
fi
export RUSTC_BOOTSTRAP=1
failed=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target"
    echo "== $target: ${seconds}s"
    # -rss_limit_mb: a parser that balloons on hostile input is a finding too.
    if ! nice cargo fuzz run -a "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=65536 -timeout=10; then
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "crashes in: ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "no crashes in: ${targets[*]}"
