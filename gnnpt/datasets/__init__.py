"""Named datasets (MoleculeNet, TDC ADMET), unlabeled corpora, molecule file readers, de-duplication and splits.

Data is never bundled: ``load(name)`` and ``load_corpus(name)`` read a verified copy from ``data_dir=``
or a mirror directory (``$GNNPT_DATA_DIR`` / ``$GNNPT_TDC_DIR`` / ``$GNNPT_CORPUS_DIR``), then the cache
(``$GNNPT_CACHE_DIR``, default ``~/.cache/gnnpt``), else download and verify it. See ``datasets/README.md`` for
the cards.
"""

from gnnpt.datasets.corpora import CORPORA, CorpusSpec, corpus_path, iter_corpus, list_corpora, load_corpus
from gnnpt.datasets.dedup import DedupReport, deduplicate
from gnnpt.datasets.download import ChecksumError, content_sha256, fetch, verify
from gnnpt.datasets.readers import detect_format, find_smiles_column, iter_molecules, read_molecules
from gnnpt.datasets.registry import DATASETS, DatasetSpec, MoleculeDataset, get_spec, list_datasets, load
from gnnpt.datasets.splits import (
    Split,
    grouped_scaffold_split,
    parent_key,
    random_split,
    repeated_splits,
    scaffold_balanced_split,
    scaffold_split,
    single_class_parts,
    stratified_split,
)

__all__ = [
    "CORPORA",
    "DATASETS",
    "ChecksumError",
    "CorpusSpec",
    "DatasetSpec",
    "DedupReport",
    "MoleculeDataset",
    "Split",
    "content_sha256",
    "corpus_path",
    "deduplicate",
    "detect_format",
    "fetch",
    "find_smiles_column",
    "get_spec",
    "grouped_scaffold_split",
    "iter_corpus",
    "iter_molecules",
    "list_corpora",
    "list_datasets",
    "load",
    "load_corpus",
    "parent_key",
    "random_split",
    "read_molecules",
    "repeated_splits",
    "scaffold_balanced_split",
    "scaffold_split",
    "single_class_parts",
    "stratified_split",
    "verify",
]
