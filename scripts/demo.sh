#!/usr/bin/env bash
# The main job on the embedded defaults. Filled in as the pipeline lands.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/river --version
