"""Regenerate ``shape_prototypes.json`` from the RVE-Synth silhouettes (``river_agent.bench.shapes``).

Run ``python -m river_agent.tools.perception.classical.prototypes``. The JSON is committed, so perception does
not import the benchmark at run time.
"""

from __future__ import annotations

import json

from river_agent.tools.perception.classical.shape import PROTOTYPES_FILE, KindShape, kind_shape

HEIGHTS = (14, 20, 28, 40, 60, 90, 120)


def build() -> dict[str, KindShape]:
    from river_agent.bench.shapes import KINDS, shape_size, silhouette

    return {
        kind: kind_shape([silhouette(kind, *shape_size(kind, h), facing) for h in HEIGHTS for facing in (1, -1)])
        for kind in KINDS
    }


if __name__ == "__main__":
    PROTOTYPES_FILE.write_text(json.dumps({k: v.model_dump() for k, v in build().items()}, indent=1))
    print(f"wrote {PROTOTYPES_FILE}")
