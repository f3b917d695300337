#!/usr/bin/env bash
# Builds the librdkafka dualstackd links (statically) into PREFIX, from Debian's source
# tarball, checked against the digest Debian publishes. Debian 12 ships librdkafka 2.0.2, whose
# SCRAM answer Kafka 4 brokers reject ("invalid credentials": the client nonce was sent twice,
# fixed in librdkafka 2.6.1); production brokers speak SASL_SSL with SCRAM, so the binary carries
# a librdkafka that can. Idempotent: a finished build is left as it is.
#   deploy/librdkafka.sh PREFIX
set -euo pipefail
VERSION=2.8.0
SHA256=5bd1c46f63265f31c6bfcedcde78703f77d28238eadf23821c2b43fc30be3e25
URL="http://deb.debian.org/debian/pool/main/libr/librdkafka/librdkafka_${VERSION}.orig.tar.gz"
prefix="${1:?usage: librdkafka.sh PREFIX}"
[ -f "$prefix/.complete" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "librdkafka: building $VERSION into $prefix"
curl -fsSL --retry 3 -o "$work/src.tar.gz" "$URL"
echo "$SHA256  $work/src.tar.gz" | sha256sum -c --quiet -
tar xzf "$work/src.tar.gz" -C "$work"
cd "$work/librdkafka-$VERSION"
# SSL and SCRAM (built in), zlib and zstd; no GSSAPI, no libcurl (OIDC); lz4 and snappy built in
./configure --prefix="$prefix" --disable-gssapi --disable-curl --disable-lz4-ext \
	--enable-zstd --enable-zlib --enable-ssl >conf-output.txt 2>&1 || { # not configure.*: mklove loads those as modules
	tail -20 conf-output.txt
	exit 1
}
make -j"$(nproc)" -C src >make-output.txt 2>&1 || {
	tail -20 make-output.txt
	exit 1
}
make -C src install >/dev/null
# librdkafka carries its own copy of cJSON (1.7.14) with global cJSON_* symbols: linked
# statically, that copy would stand in for Debian's libcjson in all of dualstackd (no security
# update from apt would reach it) and librdkafka's start-up would set its allocation hooks on
# dualstackd's JSON too. Its symbols get a prefix of their own, so each side has its own cJSON.
nm -g --defined-only "$prefix/lib/librdkafka.a" 2>/dev/null |
	awk '$3 ~ /^cJSON_/ { print $3 " rdk_" $3 }' | sort -u >"$work/cjson.syms"
[ -s "$work/cjson.syms" ] || { echo "librdkafka: no bundled cJSON symbols found"; exit 1; }
objcopy --redefine-syms="$work/cjson.syms" "$prefix/lib/librdkafka.a"
touch "$prefix/.complete"
