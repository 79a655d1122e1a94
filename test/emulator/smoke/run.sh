#!/usr/bin/env bash
# Smoke test of the emulator with the real Terraform provider: main.tf.json (every resource type the
# stack uses) must apply, then plan as a no-op (-detailed-exitcode 0), then destroy, without the
# emulator seeing a single unhandled route.
#
# Needs `npm run tools:bootstrap` first (it sources .tools/env). To exercise the Postgres side effects
# too, set EMULATOR_PG_ADMIN_URL to a superuser URL of a scratch PostgreSQL; the app's role and grants
# are then checked with psql (when installed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=/dev/null
source "$repo/.tools/env"
tf() { "$TERRAFORM_BINARY_NAME" "$@"; }

work=$(mktemp -d)
emulator_pid=""
cleanup() {
	[[ -n $emulator_pid ]] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

token=${EMULATOR_WORKSPACE_TOKEN:-emulator-workspace-token}
"$DATABRICKS_EMULATOR_BIN" -workspace-token "$token" -serving-endpoint smoke-llm >"$work/emulator.out" 2>"$work/emulator.err" &
emulator_pid=$!
for _ in $(seq 100); do
	grep -q '^EMULATOR_URL=' "$work/emulator.out" && break
	kill -0 "$emulator_pid" 2>/dev/null || { cat "$work/emulator.err" >&2; exit 1; }
	sleep 0.1
done
url=$(sed -n 's/^EMULATOR_URL=//p' "$work/emulator.out")
[[ -n $url ]] || { echo "smoke: the emulator did not report its URL" >&2; exit 1; }
echo "smoke: emulator at $url"

export DATABRICKS_HOST=$url DATABRICKS_TOKEN=$token TF_VAR_api_key=smoke-secret-value TF_IN_AUTOMATION=1
cp "$here/main.tf.json" "$work/"
cd "$work"
tf init -input=false -no-color >init.log || { cat init.log >&2; exit 1; }
tf apply -auto-approve -input=false -no-color
set +e
tf plan -detailed-exitcode -input=false -no-color >plan.log
plan_status=$?
set -e
if ((plan_status != 0)); then
	cat plan.log
	echo "smoke: FAIL: plan after apply exited $plan_status (want 0: no changes)" >&2
	exit 1
fi
echo "smoke: plan after apply is a no-op"

sp=$(tf output -raw service_principal_client_id)
if [[ -n ${EMULATOR_PG_ADMIN_URL:-} ]] && command -v psql >/dev/null; then
	privileges=$(psql "$EMULATOR_PG_ADMIN_URL" -Atc \
		"SELECT has_database_privilege('$sp', 'smoke_app', 'CONNECT') AND has_database_privilege('$sp', 'smoke_app', 'CREATE')")
	[[ $privileges == t ]] || { echo "smoke: FAIL: role $sp lacks CONNECT, CREATE on smoke_app" >&2; exit 1; }
	echo "smoke: Postgres role $sp has CONNECT, CREATE on smoke_app"
fi

tf destroy -auto-approve -input=false -no-color

unhandled=$(curl -sS "$url/_emulator/unhandled")
if [[ $unhandled != *'"requests": []'* ]]; then
	echo "smoke: FAIL: the emulator saw unhandled routes: $unhandled" >&2
	exit 1
fi
echo "smoke: OK"
