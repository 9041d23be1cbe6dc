"""Write the 150,000-molecule corpus that MiniMol's knowledge is distilled on (recipe ``minimol_distill.yaml``,
the ``tox21-fast`` student): 90,000 ZINC250k + 60,000 ChEMBL v31 molecules (fixed-seed shuffles), canonical
SMILES, deduplicated, without the molecules of the Tox21 scaffold split's validation and test parts, so a model
distilled on it is still judged on molecules it never saw.

    python pretraining/distill_corpus.py runs/distill/corpus.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from gnnpt.datasets.corpora import load_corpus
from gnnpt.featurization.pipeline import featurize
from gnnpt.finetune.run import load_labeled, make_split


def held_out_tox21() -> set[str]:
    """Canonical SMILES of Tox21's scaffold-split validation and test molecules (seed 0, as the shipped models)."""
    labeled = load_labeled("tox21")
    split = make_split(labeled, "scaffold", 0)
    graphs = featurize(labeled.smiles, "hu2020", canonical=True)
    return {graphs.smiles[i] for i in (*split.valid, *split.test) if graphs.smiles[i]}


def mixture() -> list[str]:
    """90,000 ZINC250k + 60,000 ChEMBL v31 SMILES as the corpora write them, shuffled with fixed seeds."""
    zinc = load_corpus("zinc250k")["smiles"].sample(frac=1, random_state=0).head(90_000)
    chembl = pd.concat([load_corpus(c)["smiles"] for c in ("chembl31_s4_valid", "chembl31_s4_mini_train")])
    chembl = chembl.sample(frac=1, random_state=0).head(60_000)
    return pd.concat([zinc, chembl]).sample(frac=1, random_state=1).tolist()


def distill_corpus() -> list[str]:
    """The corpus' canonical SMILES, each a fixed point of canonicalization (featurizing it again gives it back)."""
    mixed = [str(s) for s in mixture()]
    held, seen, keep = held_out_tox21(), set(), []
    for s in featurize(mixed, "hu2020", canonical=True).smiles:
        if s and s not in held and s not in seen:
            seen.add(s)
            keep.append(s)
    again = featurize(keep, "hu2020", canonical=True).smiles
    return [s for s, t in zip(keep, again, strict=True) if s == t]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the CSV to write (one column, smiles)")
    parser.add_argument("--raw", action="store_true", help="the mixture as drawn, not canonical or filtered")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    smiles = mixture() if args.raw else distill_corpus()
    pd.DataFrame({"smiles": smiles}).to_csv(args.out, index=False)
    print(f"{len(smiles):,} molecules -> {args.out}")


if __name__ == "__main__":
    main()
