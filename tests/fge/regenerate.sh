#!/usr/bin/env bash
# Regenerates golden.jsonl (fge's answers) from corpus.jsonl, building fge's json-schema-validator from its
# source. Needs: git, a JDK (Debian: default-jdk-headless) and Debian's Java libraries
#   apt-get install libjackson2-databind-java libguava-java librhino-java libjoda-time-java \
#     libphonenumber8-java libmail-java libjsr305-java libjoptsimple-java
# and the java-json-tools sources (json-schema-validator, json-schema-core, jackson-coreutils, msg-simple, btf,
# uri-template), cloned into $FGE_SRC (default: cloned from GitHub at the commits below). No Maven/Gradle.
# The corpus itself is written by corpus.py (our cases + the draft-4 JSON-Schema-Test-Suite at $SUITE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${FGE_WORK:-$(mktemp -d)}
src=${FGE_SRC:-$work/src}
declare -A commits=(
  [json-schema-validator]=d265c6b15 [json-schema-core]=99a7ad66 [jackson-coreutils]=549007e
  [msg-simple]=8e46ad4 [btf]=b7a233a [uri-template]=a18119a
)
for r in "${!commits[@]}"; do
  if [ ! -d "$src/$r" ]; then
    git clone -q "https://github.com/java-json-tools/$r" "$src/$r"
    git -C "$src/$r" checkout -q "${commits[$r]}"
  fi
done
if [ -n "${SUITE:-}" ]; then python3 "$here/corpus.py" "$SUITE" > "$here/corpus.jsonl"; fi
cp=""
for j in jackson-core jackson-databind jackson-annotations guava rhino joda-time libphonenumber javax.mail jsr305 joptsimple; do
  cp="$cp:/usr/share/java/$j.jar"
done
mkdir -p "$work/classes"
find "$src" -path '*src/main/java*' -name '*.java' > "$work/sources.txt"
javac -nowarn -encoding UTF-8 -d "$work/classes" -cp "${cp#:}" @"$work/sources.txt" "$here/Driver.java" 2>&1 | grep -v '^Note' || true
for r in "${!commits[@]}"; do
  if [ -d "$src/$r/src/main/resources" ]; then cp -r "$src/$r/src/main/resources/." "$work/classes/"; fi
done
java -cp "$work/classes$cp" Driver < "$here/corpus.jsonl" > "$here/golden.jsonl"
echo "wrote $(wc -l < "$here/golden.jsonl") answers to $here/golden.jsonl"
