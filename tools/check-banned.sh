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
# The console renders text as text and keeps no secret in script-readable storage: no HTML
# sinks, no eval, and localStorage holds the language alone.
hits3=$(git ls-files 'console/src/*.js' | xargs grep -nP '\b(innerHTML|outerHTML|insertAdjacentHTML|dangerouslySetInnerHTML|document\.write|eval|Function)\b|setAttribute\([^)]*style|localStorage\.setItem\((?!.sb\.lang)' || true)
if [[ -n $hits3 ]]; then
  echo "console: an HTML sink, eval or stored state:"; echo "$hits3"; exit 1
fi
# The relay engine and the HTTP front know no client protocol: adapters (relay/adapter.h) read
# every request and shape every byte of an answer.
hits4=$(git ls-files 'services/edge/relay/*' 'services/edge/http/*' | xargs grep -niE '\b(oai|openai|anthropic|claude|responses api)|native\.h|protocols/|chat\.completion|RT_OAI' || true)
if [[ -n $hits4 ]]; then
  echo "services/edge/relay or http names a client protocol:"; echo "$hits4"; exit 1
fi
echo "banned-function check: ok"
