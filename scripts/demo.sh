#!/usr/bin/env bash
# The main job on the embedded defaults (CPU, no downloads): edit a bundled RVE-Synth clip from an implicit
# request. Perception builds the twin, SmolLM2-135M reasons over it, the classical renderer edits the video.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 LITELLM_LOCAL_MODEL_COST_MAP=True
case_dir=tests/fixtures/rve-synth-mini/synth-s0-0003
query=$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['query'])" "$case_dir/case.json")
mkdir -p out/demo
.venv/bin/river edit "$case_dir/video.mp4" "$query" --out out/demo/edited.mp4
echo "Look at out/demo/edited.river/ for the comparison and overlay videos, the twin and the reasoning trace."
