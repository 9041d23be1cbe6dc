"""How closely a distilled student follows its teacher, on Tox21's parts and on molecules neither has seen.

The student (``gnnpt distill``) learned the teacher's probabilities on Tox21's training part and on 150,000 unlabeled
molecules (``pretraining/distill_corpus.py``: the first 90,000 of a fixed ZINC250k shuffle and the first 60,000 of a
fixed ChEMBL v31 shuffle). Here both score Tox21's scaffold-split parts and ``--n`` molecules from the tails of those
same shuffles, which no model saw. Prints, per set, the mean absolute difference of their probabilities, the
Spearman correlation of their scores (mean over tasks) and, where labels exist, each one's ROC-AUC.

    python benchmarks/student_agreement.py --teacher tox21 --student tox21-fast --n 1500
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

import gnnpt
from gnnpt.datasets.corpora import load_corpus
from gnnpt.finetune.run import load_labeled, make_split


def unseen(n: int) -> dict[str, list[str]]:
    """``n`` ZINC250k and ``n`` ChEMBL v31 molecules past the distillation corpus' share of its shuffles."""
    zinc = load_corpus("zinc250k")["smiles"].sample(frac=1, random_state=0).iloc[90_000:].head(n)
    chembl = pd.concat([load_corpus(c)["smiles"] for c in ("chembl31_s4_valid", "chembl31_s4_mini_train")])
    chembl = chembl.sample(frac=1, random_state=0).iloc[60_000:].head(n)
    return {"ZINC250k, unseen": zinc.tolist(), "ChEMBL v31, unseen": chembl.tolist()}


def mean_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean over tasks with both classes of the ROC-AUC on labeled rows."""
    aucs = []
    for k in range(labels.shape[1]):
        known = ~np.isnan(labels[:, k])
        if len(set(labels[known, k])) == 2:
            aucs.append(roc_auc_score(labels[known, k], scores[known, k]))
    return float(np.mean(aucs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", default="tox21")
    ap.add_argument("--student", default="tox21-fast")
    ap.add_argument("--n", type=int, default=1500, help="molecules per unseen set (and of the training part)")
    args = ap.parse_args()
    teacher, student = gnnpt.load(args.teacher, precision="fp32"), gnnpt.load(args.student, precision="fp32")
    labeled = load_labeled("tox21")
    split = make_split(labeled, "scaffold", 0)
    tasks = list(labeled.task_names)
    parts = {p: np.asarray(getattr(split, p)) for p in ("train", "valid", "test")}
    parts["train"] = parts["train"][: args.n]
    sets = {f"Tox21 {p}": ([labeled.smiles[i] for i in rows], labeled.targets[rows]) for p, rows in parts.items()}
    sets.update({name: (smiles, None) for name, smiles in unseen(args.n).items()})
    print(f"teacher {args.teacher}, student {args.student} (fp32)")
    print("| molecules | n | mean abs diff of P | Spearman (mean over tasks) | teacher ROC-AUC | student ROC-AUC |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (smiles, labels) in sets.items():
        t, s = teacher.predict(smiles), student.predict(smiles)
        ok = (t["error"].isna() & s["error"].isna()).to_numpy()
        tp, sp = t.loc[ok, tasks].to_numpy(float), s.loc[ok, tasks].to_numpy(float)
        rho = np.mean([spearmanr(tp[:, k], sp[:, k]).statistic for k in range(len(tasks))])
        aucs = ("", "") if labels is None else tuple(f"{100 * mean_auc(labels[ok], p):.1f}" for p in (tp, sp))
        print(f"| {name} | {ok.sum():,} | {np.abs(tp - sp).mean():.3f} | {rho:.3f} | {aucs[0]} | {aucs[1]} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
