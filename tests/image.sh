#!/usr/bin/env bash
# Builds deploy/Containerfile with buildah and runs the image: what CI can do without a
# registry or a container daemon. The Containerfile's `debian:12` and `debian:12-slim` come from
# a Debian 12 minbase made by mmdebstrap (unshare mode, cached); the build itself is the
# Containerfile's, untouched. Checks: the image runs `dualstackd --version` as its entrypoint,
# with the commit it was built from and librdkafka 2.8.0, as a non-root user.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${DS_CACHE:-$HOME/.cache/dualstackd}"
BASE_TAR="$CACHE/debian-12-minbase.tar"
export STORAGE_DRIVER=vfs # works anywhere: no overlay or fuse needed
b() { buildah --storage-driver vfs "$@"; }

for tool in buildah mmdebstrap; do
	command -v "$tool" >/dev/null || {
		echo "image: $tool is missing (make deps installs it)" >&2
		exit 1
	}
done
mkdir -p "$CACHE"
# Where containers cannot be made at all (no user or mount namespaces), say so and stop: that
# is the machine, not the image. Everything after this point must work.
skip() {
	echo "image: SKIPPED - $1" >&2
	exit 0
}
probe=$(b from scratch 2>&1) || skip "buildah cannot create a container here: $probe"
b rm "$probe" >/dev/null 2>&1 || true
if [ ! -f "$BASE_TAR" ]; then
	echo "image: making the Debian 12 base with mmdebstrap"
	rm -rf "$CACHE/debian-12-minbase.partial.tar"
	# (mmdebstrap picks the output's format from its name: it must end in .tar)
	mmdebstrap --quiet --variant=minbase --mode=unshare bookworm \
		"$CACHE/debian-12-minbase.partial.tar" \
		http://deb.debian.org/debian 2>"$CACHE/mmdebstrap.log" ||
		skip "mmdebstrap cannot make a Debian base here: $(tail -3 "$CACHE/mmdebstrap.log")"
	mv "$CACHE/debian-12-minbase.partial.tar" "$BASE_TAR"
fi
if ! b inspect --type image localhost/debian:12 >/dev/null 2>&1; then
	ctr=$(b from scratch)
	mnt=$(b mount "$ctr")
	tar -C "$mnt" -xf "$BASE_TAR"
	b umount "$ctr" >/dev/null
	b commit --quiet "$ctr" localhost/debian:12 >/dev/null
	b rm "$ctr" >/dev/null
	b tag localhost/debian:12 localhost/debian:12-slim
fi
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
echo "image: building deploy/Containerfile (commit $commit)"
b bud --quiet --isolation chroot --network host --build-arg GIT_COMMIT="$commit" \
	-f deploy/Containerfile -t localhost/dualstackd:"$commit" . >/dev/null
ctr=$(b from localhost/dualstackd:"$commit")
trap 'b rm "$ctr" >/dev/null 2>&1 || true' EXIT
# the entrypoint as the image declares it
entry=$(b inspect --format '{{index .OCIv1.Config.Entrypoint 0}}' localhost/dualstackd:"$commit")
user=$(b inspect --format '{{.OCIv1.Config.User}}' localhost/dualstackd:"$commit")
out=$(b run --isolation chroot "$ctr" -- "$entry" --version)
uid=$(b run --isolation chroot "$ctr" -- id -u)
echo "$out" | sed 's/^/image: /'
grep -q "^dualstackd $(cat VERSION) (commit $commit)" <<<"$out" ||
	{ echo "image: wrong version line" >&2; exit 1; }
grep -q "^librdkafka 2.8.0" <<<"$out" || { echo "image: not the librdkafka built" >&2; exit 1; }
[ "$uid" != 0 ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] ||
	{ echo "image: runs as root (user '$user', uid $uid)" >&2; exit 1; }
size=$(b images --format '{{.Size}}' localhost/dualstackd:"$commit")
echo "image: ok - localhost/dualstackd:$commit, user $user (uid $uid), $size"
# vfs keeps full copies: the image and the build stage go, the base stays for the next run
b rm "$ctr" >/dev/null && trap - EXIT
b rmi localhost/dualstackd:"$commit" >/dev/null
b rmi --prune >/dev/null 2>&1 || true
