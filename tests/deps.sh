#!/usr/bin/env bash
# Installs what building and testing dualstackd needs; idempotent and cached.
#  - Debian -dev packages for the C dependencies and the test tools
#  - librdkafka 2.8.0 built from Debian's source (deploy/librdkafka.sh, cached), linked statically
#  - moto server (pinned) for the EC2/STS/SSM endpoint
#  - Apache Kafka broker jars from Maven Central (cached outside the work tree)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(build-essential pkg-config curl zlib1g-dev libzstd-dev libcurl4-openssl-dev libssl-dev libcjson-dev
	libev-dev libexpat1-dev libyaml-dev libmicrohttpd-dev clang clang-format
	libclang-rt-14-dev valgrind kcat maven default-jre-headless python3-pip chromium systemd man-db time
	buildah mmdebstrap)
MOTO_VERSION=5.2.1
KAFKA_CACHE="${DS_CACHE:-$HOME/.cache/dualstackd}/kafka-libs-4.4.0-slf4j2"
RDKAFKA_CACHE="${DS_CACHE:-$HOME/.cache/dualstackd}/librdkafka-2.8.0-own-cjson"

missing=()
for p in "${APT_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Java and Maven may come from elsewhere (the machine image); only install when absent.
if command -v java >/dev/null && command -v mvn >/dev/null; then
	filtered=()
	for p in "${missing[@]}"; do
		case "$p" in maven | default-jre-headless) ;; *) filtered+=("$p") ;; esac
	done
	missing=("${filtered[@]}")
fi
if command -v pip3 >/dev/null || command -v pip >/dev/null || python3 -m pip --version >/dev/null 2>&1; then
	filtered=()
	for p in "${missing[@]}"; do [ "$p" = python3-pip ] || filtered+=("$p"); done
	missing=("${filtered[@]}")
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null ||
	! command -v moto_server >/dev/null; then
	echo "deps: installing moto[server]==$MOTO_VERSION"
	python3 -m pip install -q "moto[server]==$MOTO_VERSION"
fi
python3 -c "import pytest, boto3, xdist" 2>/dev/null || python3 -m pip install -q pytest boto3 pytest-xdist
# the report's page is looked at in headless Chromium over the DevTools protocol
python3 -c "import websocket" 2>/dev/null || python3 -m pip install -q "websocket-client==1.8.0"
# the Kubernetes manifests are checked offline against the schemas this package bundles
KUBERNETES_VALIDATE_VERSION=1.37.0
python3 -c "import kubernetes_validate, sys; sys.exit(kubernetes_validate.version.__version__ != '$KUBERNETES_VALIDATE_VERSION')" 2>/dev/null ||
	python3 -m pip install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"

if [ ! -f "$KAFKA_CACHE/.complete" ]; then
	echo "deps: fetching Kafka broker jars to $KAFKA_CACHE"
	mkdir -p "$KAFKA_CACHE"
	mvn -B -q -Dstyle.color=never -f tests/kafka/pom.xml \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$KAFKA_CACHE"
	touch "$KAFKA_CACHE/.complete"
fi
mkdir -p build
ln -sfn "$KAFKA_CACHE" build/kafka-libs
# the librdkafka the binary links (Debian 12's cannot do SCRAM with Kafka 4 brokers)
bash deploy/librdkafka.sh "$RDKAFKA_CACHE"
ln -sfn "$RDKAFKA_CACHE" build/librdkafka
