"""Regenerate ``shape_prototypes.json`` from the RVE-Synth silhouettes (``river_agent.bench.shapes``).

Run ``python -m river_agent.tools.perception.classical.prototypes``. The JSON is committed, so perception does
not import the benchmark at run time.
"""

from __future__ import annotations

import json

from river_agent.tools.perception.classical.shape import PROTOTYPES_FILE, descriptors


def build() -> dict[str, list[list[float]]]:
    from river_agent.bench.shapes import KINDS, shape_size, silhouette

    out: dict[str, list[list[float]]] = {}
    for kind in KINDS:
        for height in (14, 20, 28, 40, 60, 90):
            w, h = shape_size(kind, height)
            for facing in (1, -1):
                d = descriptors(silhouette(kind, w, h, facing))
                if d is not None:
                    out.setdefault(kind, []).append([round(float(v), 4) for v in d])
    return out


if __name__ == "__main__":
    PROTOTYPES_FILE.write_text(json.dumps(build(), indent=1))
    print(f"wrote {PROTOTYPES_FILE}")
