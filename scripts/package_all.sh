#!/usr/bin/env bash
# Package every stack for one stage (all at once, through osls compose), or for
# every stage when none is given. Offline: no AWS credentials are needed or used.
set -euo pipefail
cd "$(dirname "$0")/../services"
stages=("${@:-local dev prod prod-blue prod-green}")
for stage in ${stages[@]}; do
  echo "==> packaging every stack for stage $stage"
  env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY ../node_modules/.bin/sls package --stage "$stage"
done
