#!/bin/sh
# The tag of the ctr images (`make images`, `make image-tag`): the commit, plus
# -dirty-<hash of the uncommitted changes, tracked and untracked> while there are any, so that
# every different content gets its own tag. Outside a git checkout: a checksum of the sources.
set -eu
cd "$(dirname "$0")/.."
if commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
    changes=$(git diff HEAD --; git ls-files -z --others --exclude-standard | xargs -0r git hash-object --)
    if [ -n "$changes" ]; then
        echo "$commit-dirty-$(printf '%s' "$changes" | git hash-object --stdin | cut -c1-8)"
    else
        echo "$commit"
    fi
else
    echo "src-$(find job producer operator src pyproject.toml -type f ! -name '*.pyc' | LC_ALL=C sort | xargs cat | cksum | cut -d' ' -f1)"
fi
