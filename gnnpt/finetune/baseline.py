"""The honest non-GNN baseline: ECFP4 fingerprints + a scikit-learn random forest, one model per task.

Any pretrained GNN claim should be read against this: on small MoleculeNet sets a fingerprint forest is
often competitive with (or better than) fine-tuned GNNs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdFingerprintGenerator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from gnnpt.finetune.tasks import check_task_type


def _parse(smiles: object) -> Chem.Mol | None:
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    mol = Chem.MolFromSmiles(smiles)
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


def ecfp4(smiles: Sequence[str], radius: int = 2, n_bits: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Morgan bit fingerprints (ECFP4 at the defaults) as uint8 [n, n_bits], and a bool ``valid`` [n].

    Rows stay aligned with the input: a SMILES RDKit cannot parse (or None/NaN/empty) gets a zero row and
    ``valid`` False; nothing raises per molecule and RDKit's log noise is suppressed.
    """
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    fps = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    valid = np.zeros(len(smiles), dtype=bool)
    with rdBase.BlockLogs():
        for i, s in enumerate(smiles):
            mol = _parse(s)
            if mol is not None:
                fps[i] = generator.GetFingerprintAsNumPy(mol)
                valid[i] = True
    return fps, valid


def fit_predict_ecfp(
    train_smiles: Sequence[str],
    train_targets: np.ndarray,
    predict_smiles: Sequence[str],
    task_type: str,
    seed: int = 0,
    n_estimators: int = 500,
    n_jobs: int = -1,
    max_features: str | float | None = None,
    min_samples_leaf: int = 1,
) -> np.ndarray:
    """Fit a random forest per task on ECFP4 and predict ``predict_smiles``; returns float64 [n_predict, tasks].

    Each task's forest sees only its labeled rows with a valid SMILES. Classification uses
    ``RandomForestClassifier(class_weight="balanced")`` and returns the **probability of class 1** (not a
    logit: feed it to the rank-based ROC-AUC / PR-AUC directly, and use ``accuracy(..., from_logits=False)``);
    a task whose training labels hold one class predicts that class (0.0 or 1.0) everywhere. Regression uses
    ``RandomForestRegressor`` in target units. A task with no training label, and every row whose predict
    SMILES is invalid, is NaN. Multiclass is not supported. ``max_features`` (None: scikit-learn's default,
    ``"sqrt"`` for classification and every feature for regression) and ``min_samples_leaf`` are the forest's.
    """
    if check_task_type(task_type) == "multiclass":
        raise ValueError("the ECFP baseline supports 'classification' and 'regression', not 'multiclass'")
    targets = np.asarray(train_targets, dtype=np.float64).reshape(len(train_smiles), -1)
    x_train, train_valid = ecfp4(train_smiles)
    x_pred, pred_valid = ecfp4(predict_smiles)
    x_pred = x_pred[pred_valid]
    forest = {"n_estimators": n_estimators, "n_jobs": n_jobs, "random_state": seed,
              "min_samples_leaf": min_samples_leaf,
              **({"max_features": max_features} if max_features is not None else {})}  # fmt: skip
    out = np.full((len(predict_smiles), targets.shape[1]), np.nan)
    for j in range(targets.shape[1]):
        rows = train_valid & ~np.isnan(targets[:, j])
        y = targets[rows, j]
        if y.size == 0:
            continue
        if task_type == "classification":
            y = (y > 0.5).astype(np.int64)
            if np.unique(y).size == 1:
                out[pred_valid, j] = float(y[0])
                continue
            model: RandomForestClassifier | RandomForestRegressor = RandomForestClassifier(
                class_weight="balanced", **forest
            )
        else:
            model = RandomForestRegressor(**forest)
        model.fit(x_train[rows], y)
        if x_pred.size:  # classes_ is [0, 1] once both occur, so column 1 is the positive class
            is_clf = isinstance(model, RandomForestClassifier)
            out[pred_valid, j] = model.predict_proba(x_pred)[:, 1] if is_clf else model.predict(x_pred)
    return out
