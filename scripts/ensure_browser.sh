#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver drive the published site and the GX Data Docs in tests.
set -euo pipefail
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    exit 0
fi
echo "installing chromium and chromium-driver from Debian's packages" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null
