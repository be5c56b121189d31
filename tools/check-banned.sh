#!/usr/bin/env bash
# Banned functions (STYLE rule 29); parse.c alone may call strtoull.
set -uo pipefail
cd "$(dirname "$0")/.."
pat='\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|atof|localtime|gmtime|strerror|alloca|system|signal)[[:space:]]*\('
hits=$(git ls-files '*.c' '*.h' | xargs grep -nE "$pat" | grep -vE '(snprintf|vsnprintf|_r\(|sigaction)' || true)
hits2=$(git ls-files '*.c' '*.h' | grep -v '^lib/parse.c$' | xargs grep -nE '\bstrto(l|ul|ll|ull)[[:space:]]*\(' || true)
if [[ -n $hits$hits2 ]]; then
  echo "banned functions used:"; echo "$hits"; echo "$hits2"; exit 1
fi
echo "banned-function check: ok"
