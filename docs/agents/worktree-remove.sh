#!/usr/bin/env bash
# Removes an agent's worktree and deletes its berth dev deployment (its data and keys with it).
#
#   docs/agents/worktree-remove.sh <path>
#
# The deployment is found from the worktree's .env.local (CONVEX_DEPLOYMENT). If the worktree
# is already gone, the deployment still expires on its own within a day.
set -euo pipefail
path="${1:?usage: worktree-remove.sh <path>}"
berth="${BERTH_BIN:-berth}"

if [ -f "$path/.env.local" ]; then
  name="$(sed -n 's/^CONVEX_DEPLOYMENT=[a-z]*:\([a-z0-9-]*\).*/\1/p' "$path/.env.local" | head -n 1)"
  if [ -n "$name" ]; then
    # Use the member's login, not the worktree's deploy key (a key cannot delete its deployment).
    (cd "$(git -C "$path" rev-parse --show-toplevel)/.." && \
      env -u CONVEX_DEPLOY_KEY "$berth" deployment delete "$name" --yes --if-exists)
  fi
fi
git worktree remove --force "$path"
echo "removed $path and its deployment"
