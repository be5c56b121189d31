#!/usr/bin/env bash
# clang-format (Debian 12's 14.0.6) with the project's .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.c' '*.h' | xargs clang-format --dry-run -Werror
echo "format check: ok"
