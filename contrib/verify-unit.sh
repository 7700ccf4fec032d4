#!/usr/bin/env bash
# Checks contrib/ovh-cti.service with `systemd-analyze verify`: any message at all (an unknown
# key is only a warning there) fails the check. The unit's ExecStart names the installed
# binary; the check points it at one that exists (the built one, else /bin/true). Then prints
# systemd's own rating of the sandboxing (`systemd-analyze security`), for information.
#
#   contrib/verify-unit.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze is not installed: the unit was not checked"
    exit 0
fi
binary=/bin/true
for b in target/release/ovh-cti target/debug/ovh-cti; do
    if [ -x "$b" ]; then binary="$PWD/$b"; break; fi
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/local/bin/ovh-cti|$binary|" contrib/ovh-cti.service > "$dir/ovh-cti.service"
if ! out=$(systemd-analyze verify "$dir/ovh-cti.service" 2>&1) || [ -n "$out" ]; then
    echo "contrib/ovh-cti.service does not verify:"
    echo "$out"
    exit 1
fi
echo "contrib/ovh-cti.service: verified"
if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
    systemd-analyze security --offline=yes "$dir/ovh-cti.service" 2>&1 | tail -n 1 || true
fi
