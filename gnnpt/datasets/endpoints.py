"""What each task of the named datasets measures: the meaning, units and direction of a model's score.

A model trained on a named dataset (its card's ``data.name``) scores these endpoints; listings, the page and
``/v1/models`` show them so a chemist knows what a number means before acting on it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gnnpt.datasets.registry import SIDER_TASKS

_ACTIVE = "probability (0-1) that the molecule is active"
_HIGHER_ACTIVE = "higher: more likely active (a toxicity alert)"


@dataclass(frozen=True)
class Endpoint:
    """One task: what its score is (``meaning``), in what ``units``, which way is which (``direction``), and the
    ``assay`` or source behind the labels."""

    task: str
    meaning: str
    units: str
    direction: str
    assay: str


def _tox21(task: str, target: str, cells: str) -> Endpoint:
    return Endpoint(task, f"{_ACTIVE} in the Tox21 {target} assay", "probability", _HIGHER_ACTIVE,
                    f"Tox21 Data Challenge 2014 (NCATS qHTS, {cells})")  # fmt: skip


_TOX21 = [
    _tox21("NR-AR", "androgen receptor agonism (full-length receptor)", "MDA-kb2 cells, luciferase"),
    _tox21("NR-AR-LBD", "androgen receptor ligand-binding-domain agonism", "HEK293 cells, GAL4 beta-lactamase"),
    _tox21("NR-AhR", "aryl hydrocarbon receptor activation", "HepG2 cells, luciferase"),
    _tox21("NR-Aromatase", "aromatase (CYP19A1) inhibition", "MCF-7 aro ERE cells"),
    _tox21("NR-ER", "estrogen receptor alpha agonism (full-length receptor)", "BG1 cells, luciferase"),
    _tox21("NR-ER-LBD", "estrogen receptor alpha ligand-binding-domain agonism", "HEK293T cells, beta-lactamase"),
    _tox21("NR-PPAR-gamma", "PPAR-gamma agonism", "HEK293H cells, beta-lactamase"),
    _tox21("SR-ARE", "antioxidant response element (Nrf2, oxidative stress) activation", "HepG2 cells"),
    _tox21("SR-ATAD5", "ATAD5 induction (genotoxic stress)", "HEK293T cells"),
    _tox21("SR-HSE", "heat-shock response element activation", "HeLa cells"),
    _tox21("SR-MMP", "mitochondrial membrane potential disruption", "HepG2 cells"),
    _tox21("SR-p53", "p53 activation (DNA damage response)", "HCT-116 cells"),
]
_SIDER = [
    Endpoint(
        task,
        f"probability (0-1) that a marketed drug like this one has a side effect in the MedDRA system "
        f"organ class '{task}'",
        "probability",
        "higher: more likely to have such a side effect",
        "SIDER 4.1 (side effects from drug labels)",
    )
    for task in SIDER_TASKS
]
_ENDPOINTS: dict[str, list[Endpoint]] = {
    "tox21": _TOX21,
    "sider": _SIDER,
    "clintox": [
        Endpoint(
            "FDA_APPROVED",
            "probability (0-1) that a drug like this one was approved by the FDA",
            "probability",
            "higher: more likely approved (lower is the alert)",
            "ClinTox (FDA approval status)",
        ),
        Endpoint(
            "CT_TOX",
            "probability (0-1) that a drug candidate like this one failed clinical trials for toxicity",
            "probability",
            "higher: more likely to fail for toxicity (a toxicity alert)",
            "ClinTox (ClinicalTrials.gov failures for toxicity)",
        ),
    ],
    "esol": [
        Endpoint(
            "measured log solubility in mols per litre",
            "aqueous solubility at room temperature",
            "log10(mol/L)",
            "higher: more soluble (-2 is 10 mM; below -4, under 0.1 mM, is poorly soluble)",
            "ESOL (Delaney 2004, measured)",
        ),
    ],
    "lipophilicity": [
        Endpoint(
            "exp",
            "octanol/water distribution coefficient logD at pH 7.4",
            "log10 (unitless)",
            "higher: more lipophilic (drug-like roughly 1-3)",
            "AstraZeneca shake-flask logD7.4, ChEMBL deposit",
        ),
    ],
    "freesolv": [
        Endpoint(
            "expt",
            "hydration free energy",
            "kcal/mol",
            "lower: more favourably hydrated",
            "FreeSolv (Mobley and Guthrie, experimental)",
        ),
    ],
    "bbbp": [
        Endpoint(
            "p_np",
            "probability (0-1) that the molecule penetrates the blood-brain barrier",
            "probability",
            "higher: more likely to penetrate",
            "BBBP (Martins et al. 2012)",
        ),
    ],
    "bace": [
        Endpoint(
            "Class",
            "probability (0-1) that the molecule inhibits human BACE-1 (IC50 at most 100 nM)",
            "probability",
            "higher: more likely a potent inhibitor",
            "BACE (Subramanian et al. 2016)",
        ),
    ],
    "hiv": [
        Endpoint(
            "HIV_active",
            "probability (0-1) that the molecule inhibits HIV replication (confirmed active or moderately active)",
            "probability",
            "higher: more likely active",
            "NCI AIDS Antiviral Screen",
        ),
    ],
}


def endpoints(card: dict[str, Any]) -> list[dict[str, str]]:
    """The endpoints a model scores: its card's own ``endpoints`` when it has them, else those of the named dataset
    it was trained on, for the tasks it has ([] when unknown, e.g. a model trained on a user's file)."""
    if card.get("endpoints"):
        return list(card["endpoints"])
    known = {e.task: e for e in _ENDPOINTS.get((card.get("data") or {}).get("name", ""), [])}
    return [asdict(known[t]) for t in card.get("task_names") or () if t in known]
