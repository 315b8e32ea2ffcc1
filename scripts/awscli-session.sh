#!/usr/bin/env bash
# awscli-session.sh — a short session against a running fleetsyncd with the
# real AWS CLI v2 (Debian's `awscli` 2.9, the last CLI that still carries the
# RoboMaker model). Every step checks the CLI's parsed output; the first
# mismatch stops the session with a message and a non-zero status.
#
# Environment:
#   FLEETSYNC_ENDPOINT       server URL, e.g. http://127.0.0.1:8080 (required)
#   AWS_ACCESS_KEY_ID        credential of the server (required)
#   AWS_SECRET_ACCESS_KEY    (required)
#   AWS_DEFAULT_REGION       the server's --region (default us-east-1)
#   FLEETSYNC_BUNDLE_ROOT    root of the server's file bundle store, i.e.
#                            <data-dir>/bundles: object s3://BUCKET/KEY is the
#                            file $FLEETSYNC_BUNDLE_ROOT/BUCKET/KEY (required)
#   AWS                      the CLI to use (default /usr/bin/aws; must be v2)
#
# Names carry a random suffix, so the session can run against a server that
# already holds data. Nothing is installed; nothing but the CLI, tar, gzip and
# md5sum is needed.
set -euo pipefail

AWS=${AWS:-/usr/bin/aws}
passed=0

fail() {
	echo "awscli-session: FAIL: $*" >&2
	echo "awscli-session: $passed passed, 1 failed" >&2
	exit 1
}

ok() {
	passed=$((passed + 1))
	echo "ok $passed - $*"
}

# --- preconditions ---

for v in FLEETSYNC_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY FLEETSYNC_BUNDLE_ROOT; do
	[[ -n ${!v:-} ]] || fail "environment variable $v is not set"
done
[[ -x $AWS ]] || fail "AWS CLI v2 not found at $AWS (Debian: apt-get install awscli; or set AWS=/path/to/aws)"
aws_version=$("$AWS" --version 2>&1) || fail "$AWS --version failed: $aws_version"
[[ $aws_version == aws-cli/2.* ]] || fail "$AWS is not AWS CLI v2 (it says: $aws_version)"
for tool in tar gzip md5sum date; do
	command -v "$tool" >/dev/null || fail "$tool is required"
done
[[ -d $FLEETSYNC_BUNDLE_ROOT ]] || fail "FLEETSYNC_BUNDLE_ROOT $FLEETSYNC_BUNDLE_ROOT is not a directory"

# A hermetic CLI: only the environment's credential, no profile, no pager,
# no client-side retries hiding a server error.
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER="" AWS_MAX_ATTEMPTS=1
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_DEFAULT_PROFILE
region=$AWS_DEFAULT_REGION

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# call STEP ARGS...: runs `aws robomaker ARGS` and leaves its stdout in OUT;
# a non-zero exit fails STEP with the CLI's stderr.
OUT=
call() {
	local step=$1
	shift
	if ! OUT=$("$AWS" --endpoint-url "$FLEETSYNC_ENDPOINT" robomaker "$@" 2>"$tmp/stderr"); then
		fail "$step: aws robomaker $* exited non-zero: $(cat "$tmp/stderr")"
	fi
}

# expect STEP GOT WANT
expect() {
	[[ $2 == "$3" ]] || fail "$1: got '$2', want '$3'"
}

# expect_match STEP GOT REGEX
expect_match() {
	[[ $2 =~ $3 ]] || fail "$1: got '$2', want a match of $3"
}

sfx=$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')
echo "awscli-session: $aws_version against $FLEETSYNC_ENDPOINT, suffix $sfx"

# --- fleet ---

fleet_name=cli-fleet-$sfx
call create-fleet create-fleet --name "$fleet_name" --output text --query '[name, arn, createdAt]'
IFS=$'\t' read -r name fleet_arn created <<<"$OUT"
expect create-fleet "$name" "$fleet_name"
expect_match create-fleet "$fleet_arn" "^arn:aws:robomaker:$region:([0-9]{12}):deployment-fleet/$fleet_name/([0-9]{13})$"
account=${BASH_REMATCH[1]}
arn_ms=${BASH_REMATCH[2]}
# createdAt (parsed by the CLI as a timestamp) is the ARN's millisecond epoch.
created_ms=$(date -u -d "$created" +%s%3N) || fail "create-fleet: createdAt '$created' is not a timestamp"
expect "create-fleet createdAt (ms) vs ARN epoch" "$created_ms" "$arn_ms"
ok "create-fleet $fleet_arn"

# --- robot ---

robot_name=cli-robot-$sfx
call create-robot create-robot --name "$robot_name" --architecture X86_64 --greengrass-group-id "cli-agent-$sfx" \
	--output text --query '[name, arn, architecture, greengrassGroupId]'
IFS=$'\t' read -r name robot_arn arch gg <<<"$OUT"
expect create-robot "$name" "$robot_name"
expect_match create-robot "$robot_arn" "^arn:aws:robomaker:$region:$account:robot/$robot_name/[0-9]{13}$"
expect "create-robot architecture" "$arch" X86_64
expect "create-robot greengrassGroupId" "$gg" "cli-agent-$sfx"
ok "create-robot $robot_arn"

call register-robot register-robot --fleet "$fleet_arn" --robot "$robot_arn" --output text --query '[fleet, robot]'
expect register-robot "$OUT" "$fleet_arn"$'\t'"$robot_arn"
ok "register-robot"

call describe-robot describe-robot --robot "$robot_arn" --output text --query '[status, fleetArn, name]'
expect describe-robot "$OUT" "Registered"$'\t'"$fleet_arn"$'\t'"$robot_name"
ok "describe-robot: status Registered in $fleet_name"

# --- bundle, robot application, versions ---

mkdir -p "$tmp/app/bin" "$FLEETSYNC_BUNDLE_ROOT/demo"
printf '#!/bin/sh\necho hello from %s\n' "$sfx" >"$tmp/app/bin/run.sh"
chmod +x "$tmp/app/bin/run.sh"
bundle_key=app-$sfx.tar.gz
bundle_file=$FLEETSYNC_BUNDLE_ROOT/demo/$bundle_key
tar -czf "$tmp/bundle.tar.gz" -C "$tmp/app" .
mv "$tmp/bundle.tar.gz" "$bundle_file"
gzip -t "$bundle_file" || fail "bundle $bundle_file is not a valid gzip file"
md5=$(md5sum "$bundle_file" | cut -d' ' -f1)
ok "bundle s3://demo/$bundle_key written (md5 $md5)"

app_name=cli-app-$sfx
call create-robot-application create-robot-application --name "$app_name" \
	--sources "s3Bucket=demo,s3Key=$bundle_key,architecture=X86_64" --robot-software-suite name=General \
	--output text --query '[name, arn, version, sources[0].s3Bucket, sources[0].s3Key, sources[0].architecture, robotSoftwareSuite.name]'
IFS=$'\t' read -r name app_arn version bucket key arch suite <<<"$OUT"
expect create-robot-application "$name" "$app_name"
expect_match create-robot-application "$app_arn" "^arn:aws:robomaker:$region:$account:robot-application/$app_name/[0-9]{13}$"
expect "create-robot-application version" "$version" "\$LATEST"
expect "create-robot-application source" "$bucket/$key/$arch" "demo/$bundle_key/X86_64"
expect "create-robot-application suite" "$suite" General
ok "create-robot-application $app_arn"

call create-robot-application-version create-robot-application-version --application "$app_arn" \
	--output text --query '[version, sources[0].etag]'
expect create-robot-application-version "$OUT" "1"$'\t'"\"$md5\""
ok "create-robot-application-version: version 1, etag \"$md5\" = the file's md5"

# s3Etags given and matching the object: accepted, next number.
call create-robot-application-version create-robot-application-version --application "$app_arn" \
	--s3-etags "\"$md5\"" --output text --query '[version, sources[0].etag]'
expect "create-robot-application-version --s3-etags" "$OUT" "2"$'\t'"\"$md5\""
ok "create-robot-application-version --s3-etags: version 2"

call describe-robot-application describe-robot-application --application "$app_arn" --application-version 1 \
	--output text --query '[name, version, sources[0].etag]'
expect describe-robot-application "$OUT" "$app_name"$'\t'"1"$'\t'"\"$md5\""
ok "describe-robot-application version 1"

# --- tags ---

call tag-resource tag-resource --resource-arn "$fleet_arn" --tags team=blue,stage=cli
call list-tags-for-resource list-tags-for-resource --resource-arn "$fleet_arn" --output text --query '[tags.team, tags.stage]'
expect list-tags-for-resource "$OUT" "blue"$'\t'"cli"
ok "tag-resource / list-tags-for-resource"

call untag-resource untag-resource --resource-arn "$fleet_arn" --tag-keys stage
call list-tags-for-resource list-tags-for-resource --resource-arn "$fleet_arn" --output text --query "join(',', sort(keys(tags)))"
expect "list-tags-for-resource after untag-resource" "$OUT" team
ok "untag-resource"

# --- list-fleets pagination ---

fleet_names=("$fleet_name")
for i in 2 3 4 5; do
	n=cli-fleet-$sfx-$i
	call "create-fleet $n" create-fleet --name "$n" --output text --query name
	expect "create-fleet $n" "$OUT" "$n"
	fleet_names+=("$n")
done

# One server page of 2, then the next page by its nextToken: different fleets.
call "list-fleets page 1" list-fleets --no-paginate --max-results 2 --output text --query '[length(fleetDetails), nextToken]'
IFS=$'\t' read -r count token <<<"$OUT"
expect "list-fleets page 1 size" "$count" 2
[[ -n $token && $token != None ]] || fail "list-fleets page 1: no nextToken with more than 2 fleets"
call "list-fleets page 1" list-fleets --no-paginate --max-results 2 --output text --query 'fleetDetails[].arn'
page1=$OUT
call "list-fleets page 2" list-fleets --no-paginate --max-results 2 --next-token "$token" --output text --query 'fleetDetails[].arn'
page2=$OUT
[[ -n $page2 && $page2 != None ]] || fail "list-fleets page 2 (by nextToken) is empty"
for arn in $page2; do
	[[ $page1 != *"$arn"* ]] || fail "list-fleets page 2 repeats $arn from page 1"
done
ok "list-fleets --max-results 2: page 1 has a nextToken, page 2 has other fleets"

# The CLI's own paginator, two per request: every page fetched, our five in
# creation order. Text output prints one line per page, so our five fleets
# on at least three lines prove the CLI followed nextToken page after page.
call "list-fleets --page-size 2" list-fleets --page-size 2 --output text --query "fleetDetails[?contains(name, '$sfx')].name"
lines=$(grep -c . <<<"$OUT" || true)
((lines >= 3)) || fail "list-fleets --page-size 2: our 5 fleets came on $lines page(s), want at least 3: $OUT"
expect "list-fleets --page-size 2" "$(tr -s '\t\n' '  ' <<<"$OUT" | sed 's/ *$//')" "${fleet_names[*]}"
ok "list-fleets --page-size 2: our 5 fleets in order over $lines pages"

# --max-items: the CLI's NextToken resumes with --starting-token.
# (JSON output: text output applies --query to each page, not to the result.)
call "list-fleets --max-items 2" list-fleets --page-size 2 --max-items 2 --output json \
	--query "join(' ', [to_string(length(fleetDetails)), NextToken || 'None'])"
read -r count cli_token <<<"${OUT//\"/}"
expect "list-fleets --max-items 2 size" "$count" 2
[[ -n $cli_token && $cli_token != None ]] || fail "list-fleets --max-items 2: no NextToken"
call "list-fleets --starting-token" list-fleets --page-size 2 --max-items 2 --starting-token "$cli_token" --output json \
	--query "join(' ', fleetDetails[].arn)"
OUT=${OUT//\"/}
[[ -n $OUT ]] || fail "list-fleets --starting-token: empty page"
for arn in $OUT; do
	[[ $page1 != *"$arn"* ]] || fail "list-fleets --starting-token repeats $arn from the first page"
done
ok "list-fleets --max-items 2 / --starting-token"

# --- an error ---

missing=arn:aws:robomaker:$region:$account:deployment-fleet/cli-missing-$sfx/1600000000000
if "$AWS" --endpoint-url "$FLEETSYNC_ENDPOINT" robomaker describe-fleet --fleet "$missing" >"$tmp/stdout" 2>"$tmp/stderr"; then
	fail "describe-fleet of a missing fleet succeeded: $(cat "$tmp/stdout")"
fi
grep -q ResourceNotFoundException "$tmp/stderr" ||
	fail "describe-fleet of a missing fleet: stderr lacks ResourceNotFoundException: $(cat "$tmp/stderr")"
ok "describe-fleet of a missing fleet: non-zero exit, ResourceNotFoundException"

echo "awscli-session: $passed passed, 0 failed"
