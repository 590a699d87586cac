#!/usr/bin/env bash
# Build a leapsmear release from the committed HEAD:
#
#   bash release/build.sh VERSION            # e.g. 0.1.0
#
# into dist/ (OUT=dir to change):
#   leapsmear_VERSION_linux_{amd64,arm64}      static binaries (CGO off, -trimpath, stripped)
#   leapsmear_VERSION_{amd64,arm64}.deb        Debian packages (nfpm, pinned in release/tools/go.mod)
#   leapsmear_VERSION_image_{amd64,arm64}.tar  the container image per architecture (docker-archive,
#                                              for 'podman load' or 'docker load')
#   SHA256SUMS
# and the image IMAGE:VERSION (a manifest list of IMAGE:VERSION-amd64 and -arm64) in the local
# containers storage, ready for 'podman manifest push --all'. IMAGE defaults to
# ghcr.io/leapsmear/leapsmear, the name deploy/kubernetes/leapsmear.yaml uses.
#
# The build runs in a fresh clone of HEAD tagged vVERSION, so the Go toolchain stamps VERSION and
# the commit into the binaries' build information (leapsmear --version, leapsmear_build_info) and
# uncommitted changes never reach a release. CHANGELOG.md must have a '## [VERSION]' section.
#
# Reproducibility: the binary for this machine's architecture is built a second time in another
# clone at another path and must be byte-for-byte identical (REPRO=cold does that second build with
# an empty Go build cache too, recompiling everything; REPRO=off skips it). File dates in the
# packages and the image come from the commit (SOURCE_DATE_EPOCH).
#
# NO_IMAGE=1 skips the image (no buildah needed); ARCHES="amd64" builds fewer architectures (default
# "amd64 arm64"; this machine's must be one of them). Needs: go, git, gzip, sha256sum; buildah.
set -euo pipefail

die() { echo "release/build.sh: $*" >&2; exit 1; }
say() { printf '%s\n' "--- $*"; }

[ $# -eq 1 ] || die "usage: bash release/build.sh VERSION   (such as 0.1.0)"
VERSION=${1#v}
[[ $VERSION =~ ^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
	die "version '$1' is not MAJOR.MINOR.PATCH[-PRERELEASE]"
[[ $VERSION =~ ^[01]\. ]] || die "version $VERSION: a major version above 1 needs the module path .../v${VERSION%%.*}"

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
OUT=${OUT:-$repo/dist}
IMAGE=${IMAGE:-ghcr.io/leapsmear/leapsmear}
REPRO=${REPRO:-path}
read -r -a ARCHES <<<"${ARCHES:-amd64 arm64}"
host_arch=$(go env GOARCH)
for arch in "${ARCHES[@]}"; do
	[[ $arch =~ ^(amd64|arm64)$ ]] || die "ARCHES: '$arch' is not amd64 or arm64"
done
[[ " ${ARCHES[*]} " == *" $host_arch "* ]] || die "ARCHES='${ARCHES[*]}' leaves out this machine's $host_arch"

# The changelog entry: a release says what changed.
grep -q "^## \[$VERSION\]" CHANGELOG.md || die "CHANGELOG.md has no '## [$VERSION]' section: write it first"

commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "release/build.sh: warning: uncommitted changes are not part of the build (HEAD is $commit)" >&2
fi
if tagged=$(git rev-parse -q --verify "refs/tags/v$VERSION^{commit}"); then
	[ "$tagged" = "$commit" ] || die "tag v$VERSION is commit $tagged, but HEAD is $commit"
else
	echo "release/build.sh: note: no tag v$VERSION yet; tag $commit when you publish this build" >&2
fi
export SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct "$commit")

work=$(mktemp -d "${TMPDIR:-/tmp}/leapsmear-release.XXXXXX")
trap 'rm -rf "$work"' EXIT

# clone DIR: a clean checkout of the commit, tagged with the version.
clone() {
	git clone -q --no-checkout "$repo" "$1"
	git -C "$1" -c advice.detachedHead=false checkout -q "$commit"
	git -C "$1" tag -f "v$VERSION" "$commit" >/dev/null
}

# build SRC ARCH OUTPUT: the release binary. The environment is pinned so that
# nothing of this machine's Go settings (GOFLAGS, GOENV) reaches the bytes.
build() {
	(cd "$1" && env GOENV=off GOFLAGS=-mod=readonly CGO_ENABLED=0 GOOS=linux GOARCH="$2" \
		GOCACHE="${GOCACHE_OVERRIDE:-$(go env GOCACHE)}" GOMODCACHE="$(go env GOMODCACHE)" \
		GOPROXY="$(go env GOPROXY)" GOSUMDB="$(go env GOSUMDB)" GOTOOLCHAIN="$(go env GOTOOLCHAIN)" \
		go build -buildvcs=true -trimpath -ldflags='-s -w' -o "$3" ./cmd/leapsmear)
}

say "leapsmear $VERSION from $commit ($(go env GOVERSION)), into $OUT"
src=$work/src
clone "$src"
mkdir -p "$OUT"
rm -f "$OUT"/leapsmear_"$VERSION"_* "$OUT"/SHA256SUMS

for arch in "${ARCHES[@]}"; do
	start=$SECONDS
	build "$src" "$arch" "$OUT/leapsmear_${VERSION}_linux_$arch"
	say "binary linux/$arch: $(stat -c %s "$OUT/leapsmear_${VERSION}_linux_$arch") bytes, $((SECONDS - start)) s"
done
bin=$OUT/leapsmear_${VERSION}_linux_$host_arch
want="leapsmear v$VERSION, revision $commit "
got=$("$bin" --version)
[[ $got == "$want"* ]] || die "the binary says '$got', want '$want...'"
say "$got"

case $REPRO in
off) ;;
path | cold)
	start=$SECONDS
	clone "$work/again/elsewhere"
	if [ "$REPRO" = cold ]; then export GOCACHE_OVERRIDE=$work/gocache; fi
	build "$work/again/elsewhere" "$host_arch" "$work/again.bin"
	unset GOCACHE_OVERRIDE
	cmp -s "$bin" "$work/again.bin" ||
		die "not reproducible: two builds of $commit for $host_arch differ ($(sha256sum <"$bin" | cut -c1-16) vs $(sha256sum <"$work/again.bin" | cut -c1-16))"
	say "reproducible ($REPRO): a second build of linux/$host_arch at another path is identical, $((SECONDS - start)) s"
	;;
*) die "REPRO=$REPRO: want path, cold or off" ;;
esac

# What the package ships besides the binary, generated by the binary itself.
stage=$work/stage
mkdir -p "$stage/man"
"$bin" man "$stage/man"
gzip -9n "$stage"/man/*.1
"$bin" completion bash >"$stage/completion.bash"
# The packaged unit runs /usr/bin/leapsmear; deploy/systemd's runs /usr/local/bin/leapsmear.
sed 's|^ExecStart=/usr/local/bin/leapsmear |ExecStart=/usr/bin/leapsmear |' \
	"$src/deploy/systemd/leapsmear.service" >"$stage/leapsmear.service"
[ "$(diff "$src/deploy/systemd/leapsmear.service" "$stage/leapsmear.service" | grep -c '^>')" = 1 ] ||
	die "deploy/systemd/leapsmear.service: expected one ExecStart=/usr/local/bin/leapsmear line"

nfpm=(go tool -modfile="$src/release/tools/go.mod" nfpm)
for arch in "${ARCHES[@]}"; do
	cp "$OUT/leapsmear_${VERSION}_linux_$arch" "$stage/leapsmear"
	(cd "$src" && env GOENV=off GOFLAGS=-mod=readonly GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)" \
		GOPROXY="$(go env GOPROXY)" GOSUMDB="$(go env GOSUMDB)" GOTOOLCHAIN="$(go env GOTOOLCHAIN)" \
		VERSION="$VERSION" ARCH="$arch" STAGE="$stage" \
		"${nfpm[@]}" package --config release/nfpm.yaml --packager deb --target "$OUT/leapsmear_${VERSION}_$arch.deb" >/dev/null)
	say "package $(basename "$OUT/leapsmear_${VERSION}_$arch.deb"): $(stat -c %s "$OUT/leapsmear_${VERSION}_$arch.deb") bytes"
done

if [ "${NO_IMAGE:-}" != 1 ]; then
	command -v buildah >/dev/null || die "buildah is not installed (apt-get install buildah), or set NO_IMAGE=1"
	ctx=$work/image
	mkdir -p "$ctx/etc/leapsmear"
	cp "$OUT"/leapsmear_"${VERSION}"_linux_* "$ctx/"
	for arch in "${ARCHES[@]}"; do
		mv "$ctx/leapsmear_${VERSION}_linux_$arch" "$ctx/leapsmear-linux-$arch"
	done
	buildah manifest rm "$IMAGE:$VERSION" >/dev/null 2>&1 || buildah rmi "$IMAGE:$VERSION" >/dev/null 2>&1 || true
	buildah manifest create "$IMAGE:$VERSION" >/dev/null
	for arch in "${ARCHES[@]}"; do
		start=$SECONDS
		buildah rmi "$IMAGE:$VERSION-$arch" >/dev/null 2>&1 || true # the previous build of this version
		buildah build --quiet --os linux --arch "$arch" --timestamp "$SOURCE_DATE_EPOCH" \
			--build-arg TARGETARCH="$arch" --build-arg VERSION="$VERSION" --build-arg REVISION="$commit" \
			-f "$src/Containerfile" -t "$IMAGE:$VERSION-$arch" "$ctx" >/dev/null
		buildah manifest add "$IMAGE:$VERSION" "containers-storage:$IMAGE:$VERSION-$arch" >/dev/null
		rm -f "$OUT/leapsmear_${VERSION}_image_$arch.tar"
		buildah push --quiet "$IMAGE:$VERSION-$arch" "docker-archive:$OUT/leapsmear_${VERSION}_image_$arch.tar:$IMAGE:$VERSION"
		say "image $IMAGE:$VERSION-$arch: $(buildah images --noheading --format '{{.ID}}, {{.Size}}' "$IMAGE:$VERSION-$arch"), $((SECONDS - start)) s"
	done
	say "image $IMAGE:$VERSION: manifest list of ${ARCHES[*]}; push: podman manifest push --all $IMAGE:$VERSION docker://$IMAGE:$VERSION"
fi

(cd "$OUT" && sha256sum leapsmear_"$VERSION"_* >SHA256SUMS)
say "SHA256SUMS:"
cat "$OUT/SHA256SUMS"
