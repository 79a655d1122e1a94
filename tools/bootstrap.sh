#!/usr/bin/env bash
# Makes the offline toolchain the terraform and e2e tiers need, and records it in <repo>/.tools/env
# (source it): a Terraform CLI >= 1.5, the Databricks provider 1.99.0 in a filesystem mirror plus a
# Terraform CLI config that installs it from there, and the local Databricks workspace emulator
# built from test/emulator/. Run it as `npm run tools:bootstrap`; CI's .ci/run calls it on new machines.
#
# Idempotent and cached: every artefact lives in $DATABRICKS_APP_STACK_CACHE
# (default ~/.cache/databricks-app-stack) under a path keyed by its version (the emulator: by a hash of
# its sources and the Go version), so a run that finds them builds nothing and takes about a second.
# Only the registries are needed: Go modules come from the Go module proxy ($GOPROXY is honoured).
#
# Go's module and build caches (GOMODCACHE, GOCACHE) are kept inside the cache directory, not in
# ~/go: one directory to cache in CI, and `rm -rf` of it starts from scratch (-modcacherw makes the
# module cache deletable). A cold build therefore downloads everything once, whatever ~/go holds.
#
# Knobs (environment):
#   DATABRICKS_APP_STACK_CACHE            cache directory (above)
#   DATABRICKS_APP_STACK_BUILD_TERRAFORM=1  build Terraform 1.5.7 even if a terraform >= 1.5 is on PATH
#   DATABRICKS_PROVIDER_BINARY            use this prebuilt terraform-provider-databricks 1.99.0 for the
#                                         host platform (the binary, or the release .zip holding it)
#                                         instead of building it
#
# Verbose build output goes to $CACHE/logs/<artefact>.log; the terminal gets one progress line per step
# and, on failure, one error line naming the step and its log.
# Exit status: 0 all ready; 3 all ready but the provider (it could not be built or installed: some module
# proxies refuse github.com/databricks/terraform-provider-databricks; see DATABRICKS_PROVIDER_BINARY),
# so tiers that need real Terraform cannot run; 1 anything else failed.
set -euo pipefail

readonly TERRAFORM_FALLBACK_VERSION=1.5.7
readonly TERRAFORM_MIN_MINOR=5 # 1.x
readonly PROVIDER_VERSION=1.99.0
readonly GO_MIN_MINOR=25 # the emulator's testserver dependency needs go >= 1.25

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${DATABRICKS_APP_STACK_CACHE:-$HOME/.cache/databricks-app-stack}
LOGS=$CACHE/logs
STARTED=$SECONDS
FAILURES=()

say() { printf 'bootstrap: %s\n' "$*"; }
fail() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; }

# step_failed <name> <what> <log>: one line, with the end of the log as the likely cause.
step_failed() {
	local cause
	cause=$(grep -v '^[[:space:]]*$' "$3" 2>/dev/null | tail -n 2 | tr -s '\n\t' '  ' | cut -c1-300 || true)
	fail "$2 failed; full log: $3${cause:+ (log ends: $cause)}"
	FAILURES+=("$1")
}

mkdir -p "$CACHE" "$LOGS"
CACHE=$(cd "$CACHE" && pwd)
LOGS=$CACHE/logs

# Two bootstraps at once (parallel CI jobs on one machine) would race on the same files.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$CACHE/.lock"
	flock 9
fi

# ---- Go (only needed when something has to be built) ----

GO_BIN=""
find_go() {
	[[ -n $GO_BIN ]] && return 0
	local go
	go=$(command -v go || true)
	[[ -z $go && -x /usr/local/go/bin/go ]] && go=/usr/local/go/bin/go
	if [[ -z $go ]]; then
		fail "go is not installed: install Go >= 1.$GO_MIN_MINOR (https://go.dev/dl/, or your distribution's golang package if recent enough) and put it on PATH"
		exit 1
	fi
	local version minor
	version=$("$go" env GOVERSION 2>/dev/null || true)
	minor=$(sed -n 's/^go1\.\([0-9]*\).*/\1/p' <<<"$version")
	if [[ -z $minor || $minor -lt $GO_MIN_MINOR ]]; then
		fail "$go is ${version:-an unknown version}; install Go >= 1.$GO_MIN_MINOR (https://go.dev/dl/) and put it first on PATH"
		exit 1
	fi
	GO_BIN=$go
	export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build GOPATH=$CACHE/go/path
	export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw -buildvcs=false" CGO_ENABLED=0 GIT_TERMINAL_PROMPT=0
}

# go_install <module@version> <binary name> <destination file> <log>
go_install() {
	local module=$1 name=$2 dest=$3 log=$4 bin
	bin=$(mktemp -d "$CACHE/tmp.XXXXXX")
	if GOBIN=$bin "$GO_BIN" install -v -trimpath -ldflags="-s -w" "$module" >"$log" 2>&1 && [[ -x $bin/$name ]]; then
		mkdir -p "$(dirname "$dest")"
		mv -f "$bin/$name" "$dest"
		rm -rf "$bin"
		return 0
	fi
	rm -rf "$bin"
	return 1
}

elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# ---- 1. Terraform CLI ----

terraform_version() { # prints x.y.z of the given binary, or nothing
	env -u TF_CLI_CONFIG_FILE CHECKPOINT_DISABLE=1 "$1" version -json 2>/dev/null |
		sed -n 's/.*"terraform_version"[[:space:]]*:[[:space:]]*"\([0-9][0-9.]*\).*/\1/p' | head -n 1
}

TERRAFORM=""
if [[ ${DATABRICKS_APP_STACK_BUILD_TERRAFORM:-} != 1 ]] && on_path=$(command -v terraform); then
	version=$(terraform_version "$on_path")
	if [[ $version =~ ^1\.([0-9]+)\. && ${BASH_REMATCH[1]} -ge $TERRAFORM_MIN_MINOR ]]; then
		TERRAFORM=$(readlink -f "$on_path")
		say "terraform: using $TERRAFORM ($version, from PATH)"
	else
		say "terraform: ignoring $on_path (${version:-unknown version}, need >= 1.$TERRAFORM_MIN_MINOR)"
	fi
fi
if [[ -z $TERRAFORM ]]; then
	TERRAFORM=$CACHE/terraform/$TERRAFORM_FALLBACK_VERSION/terraform
	if [[ -x $TERRAFORM ]]; then
		say "terraform: using cached $TERRAFORM_FALLBACK_VERSION"
	else
		find_go
		say "terraform: building $TERRAFORM_FALLBACK_VERSION with go install (cold: about 2 min on 2 cores)..."
		t0=$SECONDS
		if go_install "github.com/hashicorp/terraform@v$TERRAFORM_FALLBACK_VERSION" terraform "$TERRAFORM" "$LOGS/terraform.log"; then
			say "terraform: built in $(elapsed $((SECONDS - t0)))"
		else
			step_failed terraform "building terraform $TERRAFORM_FALLBACK_VERSION (go install github.com/hashicorp/terraform@v$TERRAFORM_FALLBACK_VERSION)" "$LOGS/terraform.log"
			TERRAFORM=""
		fi
	fi
fi

# ---- 2. Databricks provider in a filesystem mirror, and the CLI config that uses it ----

PLATFORM=linux_amd64
case "$(uname -s)/$(uname -m)" in
Linux/x86_64) PLATFORM=linux_amd64 ;;
Linux/aarch64 | Linux/arm64) PLATFORM=linux_arm64 ;;
Darwin/x86_64) PLATFORM=darwin_amd64 ;;
Darwin/arm64) PLATFORM=darwin_arm64 ;;
esac
MIRROR=$CACHE/mirror
mkdir -p "$MIRROR"
PROVIDER=$MIRROR/registry.terraform.io/databricks/databricks/$PROVIDER_VERSION/$PLATFORM/terraform-provider-databricks_v$PROVIDER_VERSION

if [[ -x $PROVIDER ]]; then
	say "provider: using cached databricks/databricks $PROVIDER_VERSION ($PLATFORM)"
elif [[ -n ${DATABRICKS_PROVIDER_BINARY:-} ]]; then
	log=$LOGS/provider.log
	mkdir -p "$(dirname "$PROVIDER")"
	if [[ $DATABRICKS_PROVIDER_BINARY == *.zip ]]; then
		tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
		if unzip -o -q "$DATABRICKS_PROVIDER_BINARY" -d "$tmp" >"$log" 2>&1 &&
			found=$(find "$tmp" -maxdepth 1 -type f -name 'terraform-provider-databricks*' | head -n 1) && [[ -n $found ]]; then
			install -m 0755 "$found" "$PROVIDER"
		else
			echo "no terraform-provider-databricks* binary at the top of $DATABRICKS_PROVIDER_BINARY" >>"$log"
		fi
		rm -rf "$tmp"
	else
		install -m 0755 "$DATABRICKS_PROVIDER_BINARY" "$PROVIDER" >"$log" 2>&1 || true
	fi
	if [[ -x $PROVIDER ]]; then
		say "provider: installed $DATABRICKS_PROVIDER_BINARY into the mirror"
	else
		step_failed provider "installing the provider from DATABRICKS_PROVIDER_BINARY=$DATABRICKS_PROVIDER_BINARY" "$log"
	fi
else
	find_go
	say "provider: building databricks/databricks $PROVIDER_VERSION with go install (cold: several minutes)..."
	t0=$SECONDS
	if go_install "github.com/databricks/terraform-provider-databricks@v$PROVIDER_VERSION" terraform-provider-databricks "$PROVIDER" "$LOGS/provider.log"; then
		say "provider: built in $(elapsed $((SECONDS - t0)))"
	else
		step_failed provider "building the Databricks provider $PROVIDER_VERSION (go install github.com/databricks/terraform-provider-databricks@v$PROVIDER_VERSION; GOPROXY=$("$GO_BIN" env GOPROXY); or set DATABRICKS_PROVIDER_BINARY)" "$LOGS/provider.log"
	fi
fi

# No lock file is pinned anywhere: a self-built provider never matches the registry's checksums, and
# `terraform init` records the mirror's own h1: hash.
CLI_CONFIG=$CACHE/terraformrc
cat >"$CLI_CONFIG.tmp" <<EOF
# Written by tools/bootstrap.sh: the Databricks provider comes from the local filesystem mirror only.
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/databricks/databricks"]
  }
  direct {
    exclude = ["registry.terraform.io/databricks/databricks"]
  }
}
EOF
mv -f "$CLI_CONFIG.tmp" "$CLI_CONFIG"

# ---- 3. The workspace emulator (test/emulator), rebuilt whenever its sources change ----

EMULATOR_SRC=$REPO/test/emulator
EMULATOR=""
if [[ ! -f $EMULATOR_SRC/go.mod ]]; then
	fail "no Go module at $EMULATOR_SRC (go.mod missing)"
	FAILURES+=("emulator")
else
	# The key covers what goes into the binary: the module's files, tests excluded.
	key=$(cd "$EMULATOR_SRC" && find . -maxdepth 1 -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print0 |
		sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
	EMULATOR=$CACHE/emulator/$key/databricks-emulator
	if [[ -x $EMULATOR ]]; then
		say "emulator: using cached build $key"
	else
		find_go
		say "emulator: building $key from test/emulator..."
		t0=$SECONDS
		tmp=$(mktemp -d "$CACHE/tmp.XXXXXX")
		if (cd "$EMULATOR_SRC" && "$GO_BIN" build -v -trimpath -ldflags="-s -w" -o "$tmp/databricks-emulator" .) >"$LOGS/emulator.log" 2>&1; then
			# Older builds are never used again.
			find "$CACHE/emulator" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} + 2>/dev/null || true
			mkdir -p "$(dirname "$EMULATOR")"
			mv -f "$tmp/databricks-emulator" "$EMULATOR"
			say "emulator: built in $(elapsed $((SECONDS - t0)))"
		else
			step_failed emulator "building the emulator (go build in test/emulator)" "$LOGS/emulator.log"
			EMULATOR=""
		fi
		rm -rf "$tmp"
	fi
fi

# ---- 4. .tools/env ----

mkdir -p "$REPO/.tools"
{
	echo "# Written by tools/bootstrap.sh ($(date -u +%Y-%m-%dT%H:%M:%SZ)); source it. Do not edit: re-run the bootstrap."
	printf 'export TERRAFORM_BINARY_NAME=%q\n' "$TERRAFORM"
	printf 'export TF_CLI_CONFIG_FILE=%q\n' "$CLI_CONFIG"
	echo 'export CHECKPOINT_DISABLE=1'
	printf 'export DATABRICKS_PROVIDER_MIRROR=%q\n' "$MIRROR"
	printf 'export DATABRICKS_EMULATOR_BIN=%q\n' "$EMULATOR"
} >"$REPO/.tools/env.tmp"
mv -f "$REPO/.tools/env.tmp" "$REPO/.tools/env"

if ((${#FAILURES[@]})); then
	fail "failed: ${FAILURES[*]} (see above); .tools/env was written with what is available"
	[[ ${FAILURES[*]} == provider ]] && exit 3
	exit 1
fi
say "ready in $(elapsed $((SECONDS - STARTED))); source .tools/env"
