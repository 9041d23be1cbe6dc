"""The named labeled datasets (MoleculeNet, TDC ADMET) and ``load``: where they come from, checksums, columns, tasks.

Every spec carries two checksums: ``sha256``, of the decompressed CSV or TSV (the rule every copy is checked
by: the gzipped mirror, a plain or gzipped download from the canonical URL, the pinned source copy), and
``mirror_sha256``, of the mirror's ``.csv.gz`` / ``.tab.gz`` file (a fast path). See
:mod:`gnnpt.datasets.download`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from gnnpt.datasets.download import resolve
from gnnpt.datasets.readers import find_smiles_column

S3 = "https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/"
GH = "https://raw.githubusercontent.com/"
_GLAMBARD = GH + "GLambard/Molecules_Dataset_Collection/874041bba47e014e08772c837d6b8c630ab84cb5/originals/"
_DEEPCHEM = GH + "deepchem/deepchem/"
_ZEROSHOT = GH + "ersilia-os/zeroshot-xgboost/c33334714c221fd771b06389ec8e14c7a1d6aa6c/data/"

TaskType = Literal["classification", "regression"]
Collection = Literal["moleculenet", "tdc"]
Metric = Literal["roc_auc", "pr_auc", "rmse"]
_METRICS: dict[TaskType, tuple[Metric, ...]] = {"classification": ("roc_auc", "pr_auc"), "regression": ("rmse",)}


@dataclass(frozen=True)
class DatasetSpec:
    """One named dataset.

    ``urls`` are tried in order: for MoleculeNet the canonical DeepChem URL, then the pinned source-repository
    copy whose bytes the checksum was taken from; for TDC the pinned copy only. ``tasks=None`` means every
    column after the SMILES column, in header order (ToxCast); ``n_tasks`` and ``n_rows`` are what the verified
    file holds. ``collection`` picks the mirror folder (``$GNNPT_DATA_DIR`` or ``$GNNPT_TDC_DIR``), ``sep`` the
    column separator (tab: a ``.tab.gz`` file), ``metric`` the score reported for the set (TDC's own choice
    for TDC; ROC-AUC for MoleculeNet classification, RMSE for regression).
    """

    name: str
    sha256: str
    mirror_sha256: str
    urls: tuple[str, ...]
    smiles_columns: tuple[str, ...]
    tasks: tuple[str, ...] | None
    n_tasks: int
    n_rows: int
    task_type: TaskType
    description: str
    collection: Collection = "moleculenet"
    sep: str = ","
    metric: Metric = "roc_auc"

    def __post_init__(self) -> None:
        if self.metric not in _METRICS[self.task_type]:
            raise ValueError(f"{self.name}: metric {self.metric!r} does not fit {self.task_type}; use one of "
                             f"{_METRICS[self.task_type]}")  # fmt: skip

    @property
    def filename(self) -> str:
        """The mirror's and the cache's file name: ``<name>.tab.gz`` when tab-separated, else ``<name>.csv.gz``."""
        kind = "tab" if self.sep == "\t" else "csv"
        return f"{self.name}.{kind}.gz"

    @property
    def mirror(self) -> str:
        """The mirror folder :func:`~gnnpt.datasets.download.resolve` reads: ``data`` or ``tdc``."""
        return "tdc" if self.collection == "tdc" else "data"

    def task_columns(self, columns: Sequence[str]) -> list[str]:
        """The task columns of a file with header ``columns`` (a clear error when some are missing)."""
        columns = list(columns)
        smiles = find_smiles_column(columns, self.smiles_columns)
        tasks = list(self.tasks) if self.tasks is not None else columns[columns.index(smiles) + 1 :]
        missing = [t for t in tasks if t not in columns]
        if missing:
            raise ValueError(f"{self.name}: task columns {missing} are not in the file; its columns are {columns}")
        if len(tasks) != self.n_tasks:
            raise ValueError(f"{self.name}: expected {self.n_tasks} task columns after {smiles!r}, found {len(tasks)}")
        return tasks


TOX21_TASKS = (
    "NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
    "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53",
)  # fmt: skip
SIDER_TASKS = (
    "Hepatobiliary disorders", "Metabolism and nutrition disorders", "Product issues", "Eye disorders",
    "Investigations", "Musculoskeletal and connective tissue disorders", "Gastrointestinal disorders",
    "Social circumstances", "Immune system disorders", "Reproductive system and breast disorders",
    "Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
    "General disorders and administration site conditions", "Endocrine disorders",
    "Surgical and medical procedures", "Vascular disorders", "Blood and lymphatic system disorders",
    "Skin and subcutaneous tissue disorders", "Congenital, familial and genetic disorders",
    "Infections and infestations", "Respiratory, thoracic and mediastinal disorders", "Psychiatric disorders",
    "Renal and urinary disorders", "Pregnancy, puerperium and perinatal conditions",
    "Ear and labyrinth disorders", "Cardiac disorders", "Nervous system disorders",
    "Injury, poisoning and procedural complications",
)  # fmt: skip
MUV_TASKS = (
    "MUV-466", "MUV-548", "MUV-600", "MUV-644", "MUV-652", "MUV-689", "MUV-692", "MUV-712", "MUV-713",
    "MUV-733", "MUV-737", "MUV-810", "MUV-832", "MUV-846", "MUV-852", "MUV-858", "MUV-859",
)  # fmt: skip

_SPECS = (
    DatasetSpec(
        "bbbp",
        "d07a38487aeac5cee5508413e468043ef3097451d2a112701c2d60be9ec6b662",
        "d211b6aff488acfb47138edfcf23667af599858b3fe036045541f7137930e548",
        (S3 + "BBBP.csv", _GLAMBARD + "BBBP.csv"),
        ("smiles",),
        ("p_np",),
        1,
        2050,
        "classification",
        "Blood-brain barrier penetration (2,050 rows, 11 unparsable SMILES).",
    ),
    DatasetSpec(
        "tox21",
        "7d7e7facd853a63e79ddce4e9c3fcb7a0d83a1c300b603031c0f2c64fbe77761",
        "b0712b58280c1c87660d6abc23e199389372979a9d85f850cb27cdec6aa7c2af",
        (S3 + "tox21.csv.gz", _GLAMBARD + "tox21.csv"),
        ("smiles",),
        TOX21_TASKS,
        12,
        7831,
        "classification",
        "Tox21 nuclear-receptor and stress-response assays (7,831 rows, 12 tasks, 17% labels missing).",
    ),
    DatasetSpec(
        "toxcast",
        "0598b33326818254fcb7ced0e039b8e40ed42a18e9063c27cacc1e43b2df0f7a",
        "56041515e0bb63c1787a26ecdbeb2bd7ae1f538681caa1b03f768853cf81b1a7",
        (
            S3 + "toxcast_data.csv.gz",
            _DEEPCHEM + "446b5b25edc0c3bd5f4bf97c864a9f29774762a1/examples/toxcast/processing/toxcast_data.csv.gz",
        ),
        ("smiles",),
        None,
        617,
        8615,
        "classification",
        "ToxCast in-vitro assays (8,615 rows, 617 tasks: every column after smiles; 71% labels missing).",
    ),
    DatasetSpec(
        "sider",
        "71efc6ac4ca82d6545bc512509863281be0f17234afd7adaf71a71899988302e",
        "4cc7ccb20dded475853c583596e227116c222c6ca7dbb40159bdbe9ee3f099b9",
        (S3 + "sider.csv.gz", _DEEPCHEM + "17f082bb9ad548e94357df6c19083bc75d640821/examples/sider/sider.csv.gz"),
        ("smiles",),
        SIDER_TASKS,
        27,
        1427,
        "classification",
        "Marketed-drug side effects by system organ class (1,427 rows, 27 tasks).",
    ),
    DatasetSpec(
        "clintox",
        "9999816e760dd838358b5d88e81cea2fc062be4458ffa412ceecdba4f88a67b6",
        "7324a84a180ad9068d3847677c85d58e8432e82b3ae6ac95cf0e98b3a58d9697",
        (S3 + "clintox.csv.gz", GH + "whitead/dmol-book/551ac3101ce3206063cd0146185f2424ccbaecb5/data/clintox.csv.gz"),
        ("smiles",),
        ("FDA_APPROVED", "CT_TOX"),
        2,
        1484,
        "classification",
        "FDA approval and clinical-trial toxicity (1,484 rows; row 0 has a dummy atom '*').",
    ),
    DatasetSpec(
        "hiv",
        "9ffa7fe57dc86c342627ee1d5255e937e2ab812393c73c4d16c697022f6e1d22",
        "56110583564f4c5dd0ecccd1ed7644a09fe0ee7eaf4bb59349bf1c253786ce61",
        (S3 + "HIV.csv", _GLAMBARD + "HIV_w_emptylines.csv"),
        ("smiles",),
        ("HIV_active",),
        1,
        41127,
        "classification",
        "NCI HIV replication inhibition (41,127 rows; CRLF line endings with blank lines, as upstream).",
    ),
    DatasetSpec(
        "muv",
        "4a164809c7e33a76d93a80198303f8ac353edbd2c8dccc0f5b44e8cd1c0ba3c7",
        "ee68d1fad0b10440dc494ac3a74cf99168a0b0da9683556b2b48220b88172135",
        (S3 + "muv.csv.gz", GH + "chemprop/chemprop/b83635bcddaddcdb91d453128edec9f2be0d25cf/data/muv.csv.gz"),
        ("smiles",),
        MUV_TASKS,
        17,
        93087,
        "classification",
        "Maximum unbiased validation (93,087 rows, 17 tasks, 84% labels missing). The verified copy has "
        "chemprop's layout (smiles first, no mol_id); the S3 file's layout differs, so its bytes fail the "
        "checksum and the pinned chemprop copy is the one that downloads.",
    ),
    DatasetSpec(
        "bace",
        "d36f089649984f7bfaa4589ccc3ae907b831780a01ccfd065a5b604939e1a5df",
        "fb56d9386eaa076dc1474bc93040e53ccc59d740329d564779d2bc6fa5d7cd5f",
        (S3 + "bace.csv", _GLAMBARD + "bace.csv"),
        ("smiles", "mol"),
        ("Class",),
        1,
        1513,
        "classification",
        "BACE-1 inhibitors (1,513 rows); the SMILES column is 'mol' upstream, 'smiles' in the verified copy.",
    ),
    DatasetSpec(
        "esol",
        "8c06a76f0c6487d29ab0f903e6a7a7139f189ab3c1178f159c8be8964602f189",
        "5d3f47386ea1a6ff54a67e90d9f1106180a8d60be5f3bc259781726f56410b00",
        (
            S3 + "delaney-processed.csv",
            _DEEPCHEM + "108af2176a5f876c2df1df922baadb02d647c826/datasets/delaney-processed.csv",
        ),
        ("smiles",),
        ("measured log solubility in mols per litre",),
        1,
        1128,
        "regression",
        "Aqueous solubility, log mol/L (1,128 rows). The 'ESOL predicted' column is a baseline's output: "
        "never a feature.",
        metric="rmse",
    ),
    DatasetSpec(
        "freesolv",
        "ab5895d914ee87cb563bd7b9611e869527bba45bec6b014d34dc495a0f9dcb72",
        "658dce87944365ad8fc03b8b137e561320deb64316bda57fe74a5069d0859b13",
        (S3 + "SAMPL.csv", _GLAMBARD + "FreeSolv_SAMPL.csv"),
        ("smiles",),
        ("expt",),
        1,
        642,
        "regression",
        "Experimental hydration free energy, kcal/mol (642 rows).",
        metric="rmse",
    ),
    DatasetSpec(
        "lipophilicity",
        "aed41590cb30609d51d8e08ad3ff06495a76e80e211358801f596b10da69bacd",
        "b63bb8a9fbb8c68bc62949e63d841a59c2e78571a3f0087c47b83f484ee45468",
        (S3 + "Lipophilicity.csv", _GLAMBARD + "Lipophilicity.csv"),
        ("smiles",),
        ("exp",),
        1,
        4200,
        "regression",
        "Octanol/water distribution coefficient logD at pH 7.4 (4,200 rows).",
        metric="rmse",
    ),
)


def _tdc(name: str, sha256: str, mirror_sha256: str, n_rows: int, metric: Metric, description: str) -> DatasetSpec:
    """A TDC ADMET binary set: columns ``Drug_ID``, ``Drug`` (SMILES), ``Y`` (0/1), tab-separated."""
    return DatasetSpec(name, sha256, mirror_sha256, (_ZEROSHOT + f"{name}.tab",), ("Drug",), ("Y",), 1, n_rows,
                       "classification", description, collection="tdc", sep="\t", metric=metric)  # fmt: skip


# sha256 of the content (the .tab as the pinned commit has it) and of the mirror's .tab.gz (its MANIFEST)
_TDC_SPECS = (
    _tdc("hia_hou", "3aaa57d0fe97f008cbe3cafc3e249e18166c460aaf5a058d71d3a90e78807ead",
         "9df3181dfd972a29d7e113b6d784093f4b3abcfabe42f1296cd3ede3a66de3f2", 578, "roc_auc",
         "Human intestinal absorption (TDC HIA_Hou; 578 rows, all unique)."),
    _tdc("pgp_broccatelli", "d035bb21ea653e387a21111c369061d6c76fb444e8d129f4444279f54aa00dd6",
         "388401b74c0a69bb27ea7a5d1d7bd3d76b7eda7c03e14660555f3a504090a521", 1218, "roc_auc",
         "P-glycoprotein inhibition (TDC Pgp_Broccatelli; 1,218 rows, 1,212 unique SMILES)."),
    _tdc("bioavailability_ma", "43d5b270657a819a48615e7976081b9215456ce4e5cad91a0a36d9fb5bd78508",
         "0cffdb4aa127409823fdb4f8dd00af67adf37e8250d51058fac3ded607a13f95", 640, "roc_auc",
         "Oral bioavailability above 20% (TDC Bioavailability_Ma; 640 rows, all unique)."),
    _tdc("bbb_martins", "eb32676c7bf6e2bcd98b7625186bbb2ba4e4644c1d1468dfa18b6be665bd5e98",
         "f8cb954fd4b01016ec17540d794941c661f8a1148704cd9e240244ce4da10046", 2039, "roc_auc",
         "Blood-brain barrier penetration (TDC BBB_Martins; 2,039 rows, 1,975 unique SMILES, 10 with "
         "conflicting labels)."),
    _tdc("cyp2c9_veith", "e604947a8bb42ddca469201587302f0e8afb6c704372d19fb17891aabcd0491e",
         "ec7547970e9547fb2f47c490bf2c97e14ce48f0feb426471a91b6f0e5790d1d1", 12092, "pr_auc",
         "CYP2C9 inhibition (TDC CYP2C9_Veith; 12,092 rows, all unique)."),
    _tdc("cyp2d6_veith", "0eb2a25a3d7f0e5f1668ff43bd92f4e24f6f75c67a257f2f4072632e19fb03ff",
         "ff555fbde596174daff59bec169e71439cc6ac9956da26e35043f07f9ee66684", 13130, "pr_auc",
         "CYP2D6 inhibition (TDC CYP2D6_Veith; 13,130 rows, all unique)."),
    _tdc("cyp3a4_veith", "f20f2676e5c9e196e31d5d8565c68e4ed3cc73a1c1b86c23c2ab9d833156804b",
         "77b90d7413af1133851aa981e4a1e48e5d998ff455a82cbdace9f7857cab5fdf", 12328, "pr_auc",
         "CYP3A4 inhibition (TDC CYP3A4_Veith; 12,328 rows, all unique)."),
    _tdc("cyp2c9_substrate_carbonmangels", "7c12c1727e1450ba499224117181bc876f68ff22ba7bea69a460f88146558f3c",
         "75734cae2ee86c92d570a82b298a45782211104f35cc94f3a948e208742369aa", 669, "pr_auc",
         "CYP2C9 substrate (TDC CYP2C9_Substrate_CarbonMangels; 669 rows, 666 unique SMILES)."),
    _tdc("cyp2d6_substrate_carbonmangels", "ea52dd8d0e544f4fb8d00e7ea8ea96a7a731ae09162f3a312c18650f072e701c",
         "3514828c69d24e2a8d1444653ae3a8ceef7c7a7653899374f1d445fd76312dc5", 667, "pr_auc",
         "CYP2D6 substrate (TDC CYP2D6_Substrate_CarbonMangels; 667 rows, 664 unique SMILES, 1 with "
         "conflicting labels)."),
    _tdc("cyp3a4_substrate_carbonmangels", "2286b98ded8fbf703f74991531e0868134244a0be78b8446ee8c30faf4f486d7",
         "e50ad9eb48b1f30dfc54294a157a56cf0b3c4ce4fe7f9c5251d796ab5cf75d62", 670, "roc_auc",
         "CYP3A4 substrate (TDC CYP3A4_Substrate_CarbonMangels; 670 rows, 667 unique SMILES)."),
)  # fmt: skip
DATASETS: dict[str, DatasetSpec] = {s.name: s for s in _SPECS + _TDC_SPECS}


def list_datasets() -> list[str]:
    """Names of the registered labeled datasets."""
    return list(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name`` (case-insensitive); a KeyError lists the valid names."""
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; registered: {', '.join(DATASETS)}") from None


@dataclass
class MoleculeDataset:
    """A labeled dataset, row-aligned with its file: no row is dropped here.

    ``smiles`` are stripped of surrounding whitespace (ESOL has trailing spaces); ``targets`` is float32
    [rows, tasks] with NaN for a missing label. Invalid SMILES stay in place: featurization and the
    splits report them per row.
    """

    spec: DatasetSpec
    frame: pd.DataFrame
    smiles: list[str]
    targets: np.ndarray
    task_names: list[str]

    @classmethod
    def from_frame(cls, spec: DatasetSpec, frame: pd.DataFrame) -> MoleculeDataset:
        """Pick the SMILES column (any of the spec's aliases) and the task columns out of a raw frame."""
        smiles_col = find_smiles_column(list(frame.columns), spec.smiles_columns)
        tasks = spec.task_columns(list(frame.columns))
        smiles = frame[smiles_col].fillna("").astype(str).str.strip().tolist()
        targets = frame[tasks].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32)
        return cls(spec, frame, smiles, targets, tasks)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def task_type(self) -> TaskType:
        return self.spec.task_type

    def __len__(self) -> int:
        return len(self.smiles)


def load(name: str, data_dir: str | Path | None = None) -> MoleculeDataset:
    """Load dataset ``name`` from a verified copy: ``data_dir``, the mirror (``$GNNPT_DATA_DIR`` for MoleculeNet,
    ``$GNNPT_TDC_DIR`` for TDC), the cache, or a download.

    A copy whose checksum does not match is refused with :class:`~gnnpt.datasets.download.ChecksumError`.
    """
    spec = get_spec(name)
    path = resolve(spec.filename, spec.sha256, spec.urls, data_dir=data_dir, mirror=spec.mirror,
                   stored_sha256=spec.mirror_sha256)  # fmt: skip
    return MoleculeDataset.from_frame(spec, pd.read_csv(path, compression="gzip", sep=spec.sep))
