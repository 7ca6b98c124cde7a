#!/usr/bin/env bash
# One git worktree per coding agent, each with its own berth dev deployment.
#
#   docs/agents/worktree-add.sh <branch> [<path>]
#
# Creates (or reuses) the worktree at <path> (default: ../<repo>-<branch>) on <branch>, a dev
# deployment dev/<you>/<branch> that expires in a day (reused when it exists), pushes convex/ to
# it, and saves a deploy key for it in the worktree's .env.local, so the agent working there
# needs no login of its own. Safe to run again. Needs `berth login` (or BERTH_URL and
# BERTH_ACCESS_TOKEN) for the person setting it up.
set -euo pipefail
branch="${1:?usage: worktree-add.sh <branch> [<path>]}"
repo_root="$(git rev-parse --show-toplevel)"
path="${2:-$(dirname "$repo_root")/$(basename "$repo_root")-${branch//\//-}}"
berth="${BERTH_BIN:-berth}"

if [ ! -d "$path" ]; then
  if git show-ref --verify --quiet "refs/heads/$branch"; then
    git worktree add "$path" "$branch"
  else
    git worktree add -b "$branch" "$path"
  fi
fi
cd "$path"
# A key saved by an earlier run would act instead of the login; it is replaced below anyway.
if [ -f .env.local ]; then
  sed -i.bak '/^CONVEX_DEPLOY_KEY=/d' .env.local && rm -f .env.local.bak
fi

me="$("$berth" whoami --json | sed -n 's/.*"username": *"\([^"]*\)".*/\1/p')"
reference="dev/${me}/$(printf '%s' "$branch" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9/-' '-')"
key_name="agent-${branch//\//-}"

"$berth" deployment create "$reference" --type dev --expiration "in 1 day" --if-not-exists --select
if [ -d convex ]; then
  "$berth" deploy --deployment "$reference"
fi
# A fresh key each time: the old one (if any) is revoked first.
"$berth" deployment token delete "$key_name" --deployment "$reference" >/dev/null 2>&1 || true
"$berth" deployment token create "$key_name" --deployment "$reference" --save-env
echo "worktree $path is ready: deployment $reference, key $key_name in .env.local"
