"""The named labeled datasets (MoleculeNet): where they come from, their checksums, columns and tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

S3 = "https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/"
GH = "https://raw.githubusercontent.com/"
_GLAMBARD = GH + "GLambard/Molecules_Dataset_Collection/874041bba47e014e08772c837d6b8c630ab84cb5/originals/"

TaskType = Literal["classification", "regression"]


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset.

    ``sha256`` is of the decompressed CSV content (see :mod:`gnnpt.datasets.download`). ``urls`` are
    tried in order: the canonical DeepChem/MoleculeNet URL, then the pinned source-repository copy
    whose bytes were verified. ``tasks=None`` means every column except the SMILES column.
    """

    name: str
    sha256: str
    urls: tuple[str, ...]
    smiles_columns: tuple[str, ...]
    tasks: tuple[str, ...] | None
    task_type: TaskType
    description: str

    @property
    def filename(self) -> str:
        return f"{self.name}.csv.gz"


TOX21_TASKS = (
    "NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
    "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53",
)  # fmt: skip
MUV_TASKS = (
    "MUV-466", "MUV-548", "MUV-600", "MUV-644", "MUV-652", "MUV-689", "MUV-692", "MUV-712", "MUV-713",
    "MUV-733", "MUV-737", "MUV-810", "MUV-832", "MUV-846", "MUV-852", "MUV-858", "MUV-859",
)  # fmt: skip

_SPECS = (
    DatasetSpec(
        "bbbp",
        "d07a38487aeac5cee5508413e468043ef3097451d2a112701c2d60be9ec6b662",
        (S3 + "BBBP.csv", _GLAMBARD + "BBBP.csv"),
        ("smiles",),
        ("p_np",),
        "classification",
        "Blood-brain barrier penetration (2,050 rows, 11 unparsable SMILES).",
    ),
    DatasetSpec(
        "tox21",
        "7d7e7facd853a63e79ddce4e9c3fcb7a0d83a1c300b603031c0f2c64fbe77761",
        (S3 + "tox21.csv.gz", _GLAMBARD + "tox21.csv"),
        ("smiles",),
        TOX21_TASKS,
        "classification",
        "Tox21 nuclear-receptor and stress-response assays (7,831 rows, 12 tasks, 17% labels missing).",
    ),
    DatasetSpec(
        "toxcast",
        "0598b33326818254fcb7ced0e039b8e40ed42a18e9063c27cacc1e43b2df0f7a",
        (
            S3 + "toxcast_data.csv.gz",
            GH + "deepchem/deepchem/446b5b25edc0c3bd5f4bf97c864a9f29774762a1/examples/toxcast/processing/"
            "toxcast_data.csv.gz",
        ),
        ("smiles",),
        None,
        "classification",
        "ToxCast in-vitro assays (8,615 rows, 617 tasks, 71% labels missing).",
    ),
    DatasetSpec(
        "sider",
        "71efc6ac4ca82d6545bc512509863281be0f17234afd7adaf71a71899988302e",
        (
            S3 + "sider.csv.gz",
            GH + "deepchem/deepchem/17f082bb9ad548e94357df6c19083bc75d640821/examples/sider/sider.csv.gz",
        ),
        ("smiles",),
        None,
        "classification",
        "Marketed-drug side effects by system organ class (1,427 rows, 27 tasks).",
    ),
    DatasetSpec(
        "clintox",
        "9999816e760dd838358b5d88e81cea2fc062be4458ffa412ceecdba4f88a67b6",
        (S3 + "clintox.csv.gz", GH + "whitead/dmol-book/551ac3101ce3206063cd0146185f2424ccbaecb5/data/clintox.csv.gz"),
        ("smiles",),
        ("FDA_APPROVED", "CT_TOX"),
        "classification",
        "FDA approval and clinical-trial toxicity (1,484 rows; row 0 has a dummy atom '*').",
    ),
    DatasetSpec(
        "hiv",
        "9ffa7fe57dc86c342627ee1d5255e937e2ab812393c73c4d16c697022f6e1d22",
        (S3 + "HIV.csv", _GLAMBARD + "HIV_w_emptylines.csv"),
        ("smiles",),
        ("HIV_active",),
        "classification",
        "NCI HIV replication inhibition (41,127 rows; CRLF line endings with blank lines, as upstream).",
    ),
    DatasetSpec(
        "muv",
        "4a164809c7e33a76d93a80198303f8ac353edbd2c8dccc0f5b44e8cd1c0ba3c7",
        (S3 + "muv.csv.gz", GH + "chemprop/chemprop/b83635bcddaddcdb91d453128edec9f2be0d25cf/data/muv.csv.gz"),
        ("smiles",),
        MUV_TASKS,
        "classification",
        "Maximum unbiased validation (93,087 rows, 17 tasks). The verified copy is chemprop's layout "
        "(smiles first, no mol_id); the S3 file's different layout fails the checksum and the pinned copy is used.",
    ),
    DatasetSpec(
        "bace",
        "d36f089649984f7bfaa4589ccc3ae907b831780a01ccfd065a5b604939e1a5df",
        (S3 + "bace.csv", _GLAMBARD + "bace.csv"),
        ("smiles", "mol"),
        ("Class",),
        "classification",
        "BACE-1 inhibitors (1,513 rows); the SMILES column is 'mol' upstream, 'smiles' in this copy.",
    ),
    DatasetSpec(
        "esol",
        "8c06a76f0c6487d29ab0f903e6a7a7139f189ab3c1178f159c8be8964602f189",
        (
            S3 + "delaney-processed.csv",
            GH + "deepchem/deepchem/108af2176a5f876c2df1df922baadb02d647c826/datasets/delaney-processed.csv",
        ),
        ("smiles",),
        ("measured log solubility in mols per litre",),
        "regression",
        "Aqueous solubility, log mol/L (1,128 rows). "
        "The 'ESOL predicted' column is a baseline's output: never a feature.",
    ),
    DatasetSpec(
        "freesolv",
        "ab5895d914ee87cb563bd7b9611e869527bba45bec6b014d34dc495a0f9dcb72",
        (S3 + "SAMPL.csv", _GLAMBARD + "FreeSolv_SAMPL.csv"),
        ("smiles",),
        ("expt",),
        "regression",
        "Experimental hydration free energy, kcal/mol (642 rows).",
    ),
    DatasetSpec(
        "lipophilicity",
        "aed41590cb30609d51d8e08ad3ff06495a76e80e211358801f596b10da69bacd",
        (S3 + "Lipophilicity.csv", _GLAMBARD + "Lipophilicity.csv"),
        ("smiles",),
        ("exp",),
        "regression",
        "Octanol/water distribution coefficient logD at pH 7.4 (4,200 rows).",
    ),
)
DATASETS: dict[str, DatasetSpec] = {s.name: s for s in _SPECS}
CLASSIFICATION = tuple(s.name for s in _SPECS if s.task_type == "classification")


def list_datasets() -> list[str]:
    """Names of the registered labeled datasets."""
    return list(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name`` (case-insensitive)."""
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; registered: {', '.join(DATASETS)}") from None
