#!/usr/bin/env bash
# Builds the libFuzzer targets with plain swiftc (never SwiftPM, so .build and its lock are left
# alone) into .build-fuzz/ and runs each for FUZZ_SECONDS (default 60), then prints a table.
#   Fuzz/run.sh                 build and run all targets
#   Fuzz/run.sh fuzz-token      build all, run the named ones
#   FUZZ_BUILD_ONLY=1 Fuzz/run.sh
# Seeds: Fuzz/corpus/<target>/ (committed) are copied into .build-fuzz/corpus/<target>/, the
# working corpus libFuzzer grows. Crashes land in .build-fuzz/artifacts/<target>/; once fixed, a
# crash input is kept in Fuzz/regressions/<target>/ and replayed before each run.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
# The Swift backtracer and ASan both want the crash signal; let ASan report.
export SWIFT_BACKTRACE=enable=no
out=.build-fuzz
mods="$out/modules"
mkdir -p "$mods" "$out/logs"

flags=(-O -swift-version 6 -sanitize=fuzzer,address -parse-as-library -g -use-ld=lld
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility)

library() {  # library <module> <sources...>
    local name=$1
    shift
    swiftc "${flags[@]}" -I "$mods" -module-name "$name" -emit-module -emit-module-path "$mods/$name.swiftmodule" \
        -emit-library -static -o "$out/lib$name.a" "$@"
}

echo "== building fuzz targets in $out/"
library FleetCore Sources/FleetCore/*.swift
library FleetAuth Sources/FleetAuth/BearerToken.swift Sources/FleetAuth/TokenParser.swift \
    Sources/FleetAuth/AccessClaims.swift
swiftc "${flags[@]}" -I "$mods" -module-name FuzzSenML Fuzz/fuzz-senml.swift \
    Tests/FleetCoreTests/SenMLReference.swift "$out/libFleetCore.a" \
    -o "$out/fuzz-senml"
swiftc "${flags[@]}" -I "$mods" -module-name FuzzToken Fuzz/fuzz-token.swift "$out/libFleetAuth.a" \
    "$out/libFleetCore.a" -o "$out/fuzz-token"
swiftc "${flags[@]}" -I "$mods" -I Sources/CZlib -module-name FuzzInflate Fuzz/fuzz-inflate.swift \
    Sources/FleetHTTP/ZlibInflate.swift "$out/libFleetCore.a" -lz -o "$out/fuzz-inflate"
[[ -n "${FUZZ_BUILD_ONLY:-}" ]] && exit 0

targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(fuzz-senml fuzz-token fuzz-inflate)

declare -A max_len=([fuzz-senml]=4096 [fuzz-token]=9000 [fuzz-inflate]=4096)
rows=()
status=0
for target in "${targets[@]}"; do
    short=${target#fuzz-}
    corpus="$out/corpus/$short"
    artifacts="$out/artifacts/$short"
    mkdir -p "$corpus" "$artifacts"
    cp -n Fuzz/corpus/"$short"/* "$corpus"/ 2>/dev/null || true
    log="$out/logs/$target.log"
    # First replay the inputs kept from earlier crashes (Fuzz/regressions/<target>/), once each.
    regressions=(Fuzz/regressions/"$short"/*)
    if [[ -e "${regressions[0]}" ]]; then
        if ! "$out/$target" "${regressions[@]}" >"$out/logs/$target-regressions.log" 2>&1; then
            echo "== $target: a regression input fails again, see $out/logs/$target-regressions.log"
            rows+=("$(printf '%-13s %12s %8s %8s  %s' "$target" - - - "REGRESSION")")
            status=1
            continue
        fi
        echo "== $target: ${#regressions[@]} regression inputs replayed"
    fi
    echo "== $target for ${seconds}s (log $log)"
    set +e
    "$out/$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="${max_len[$target]}" \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
    rc=$?
    set -e
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
    if [[ $rc -eq 0 && -n "$done_line" ]]; then
        runs=$(sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/' <<<"$done_line")
        time=$(sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/' <<<"$done_line")
        result=ok
    else
        runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
        time=-
        result="CRASH: $(ls -t "$artifacts" | head -1)"
        grep -E 'ERROR|Fatal error|SUMMARY' "$log" | head -3 || true
        status=1
    fi
    files=$(ls "$corpus" | wc -l)
    rows+=("$(printf '%-13s %12s %8s %8s  %s' "$target" "$runs" "$time" "$files" "$result")")
done

echo
printf '%-13s %12s %8s %8s  %s\n' target executions "time(s)" corpus result
for row in "${rows[@]}"; do echo "$row"; done
exit $status
