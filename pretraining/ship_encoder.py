"""Ship a pretrained encoder inside the package: ``gnnpt/data/models/<name>/`` (float16 safetensors + card).

    python pretraining/ship_encoder.py runs/study/descriptors/encoder --name gin-desc-v1 \\
        --description "GIN 5x300 pretrained by RDKit-descriptor prediction on ZINC250k + ChEMBL31 (CPU)"

The card keeps everything the run recorded (corpus name and hashes, objectives, recipe, budget, steps, hardware,
wall time, loss curve) and adds the name, the description and where the shipped copy came from. Shipped encoders are
listed by ``gnnpt models list``, used by name in ``gnnpt finetune --encoder`` and adaptation jobs, and exported in
the published layout with ``gnnpt models export <name> out.pth --format pth``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gnnpt.models.encoders import load_encoder, save_encoder
from gnnpt.models.packaged import packaged_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("encoder", type=Path, help="a saved encoder directory (a run's encoder/ or a snapshot)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--description", required=True)
    args = parser.parse_args()
    card = json.loads((args.encoder / "card.json").read_text())
    if "snapshot_minutes" in card:  # a snapshot: the run's final card holds the corpus hash, descriptors and curve
        run_card = json.loads((args.encoder.parents[1] / "encoder" / "card.json").read_text())
        for key in ("corpus", "descriptors", "gnnpt_version", "init", "hyper_parameters"):
            card[key] = run_card.get(key)
        card["curve"] = [point for point in run_card.get("curve", []) if point["step"] < card["steps"]]
        card["wall_time_s"] = card["training_seconds"]
    for key in ("kind", "architecture", "config", "scheme", "dtype"):
        card.pop(key, None)  # save_encoder writes these from the encoder itself
    card.update({"name": args.name, "description": args.description, "source_run": str(args.encoder)})
    target = save_encoder(load_encoder(args.encoder), packaged_dir() / args.name, card, half=True)
    for file in target.iterdir():
        file.chmod(0o644)
    size = sum(f.stat().st_size for f in target.iterdir()) / 1e6
    print(f"shipped {args.encoder} as {args.name} in {target} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
