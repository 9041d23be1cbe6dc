"""Named datasets (MoleculeNet), unlabeled corpora, molecule file readers and splits."""

from gnnpt.datasets.corpora import CORPORA, corpus_path, iter_corpus, list_corpora, load_corpus
from gnnpt.datasets.download import ChecksumError, content_sha256, fetch, verify
from gnnpt.datasets.labeled import MoleculeDataset, load
from gnnpt.datasets.readers import iter_molecules, read_molecules
from gnnpt.datasets.registry import DATASETS, DatasetSpec, get_spec, list_datasets
from gnnpt.datasets.splits import Split, random_split, scaffold_split, stratified_split

__all__ = [
    "CORPORA",
    "DATASETS",
    "ChecksumError",
    "DatasetSpec",
    "MoleculeDataset",
    "Split",
    "content_sha256",
    "corpus_path",
    "fetch",
    "get_spec",
    "iter_corpus",
    "iter_molecules",
    "list_corpora",
    "list_datasets",
    "load",
    "load_corpus",
    "random_split",
    "read_molecules",
    "scaffold_split",
    "stratified_split",
    "verify",
]
