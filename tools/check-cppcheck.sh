#!/usr/bin/env bash
# cppcheck (STYLE rule 42) over our C (the generated protobuf headers are left out).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
cppcheck --enable=warning,performance,portability --error-exitcode=1 --quiet --inline-suppr \
  -D_GNU_SOURCE -I. --suppress=missingIncludeSystem --suppress=missingInclude lib services tests/fake_gemini bench
echo "cppcheck: ok"
