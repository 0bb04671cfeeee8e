"""RVE-Synth generator speed: `python scripts/bench_generate.py [--cases 3] [--backgrounds real]`."""

from __future__ import annotations

import argparse

from river_agent.bench.speed import print_speed, run_speed

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=3)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--backgrounds", default="flat", choices=["flat", "real"])
    a = ap.parse_args()
    print_speed(
        run_speed(frames=a.frames, width=a.width, height=a.height, cases=a.cases, backgrounds=a.backgrounds)
    )
