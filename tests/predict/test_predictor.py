"""The notebook predictor: any input shape in, one row per input out, in order, with spread, domain and pictures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from gnnpt.models.defaults import DEFAULT_MODEL
from gnnpt.models.domain import TrainingDomain, write_domain_for_model
from gnnpt.models.scoring import score_molecules
from gnnpt.predict import Predictor

VALID = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "OCC(N)C(=O)O"]
BAD = "C1CC"  # unclosed ring: RDKit cannot parse it


def _canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def test_columns_scores_and_errors_of_a_single_model(shipped: Predictor) -> None:
    frame = shipped.predict([*VALID, BAD])
    tasks = shipped.task_names
    assert list(frame.columns) == ["smiles", "canonical_smiles", *tasks, "max_similarity", "in_domain", "error"]
    reference = score_molecules(shipped.model, [*VALID, BAD], precision=shipped.precision)  # the one scoring path
    np.testing.assert_array_equal(frame[tasks].to_numpy(), reference.mean)
    assert frame[tasks].iloc[:4].stack().between(0, 1).all() and frame[tasks].iloc[4].isna().all()
    assert frame["error"].iloc[:4].tolist() == [None] * 4 and frame["error"].iloc[4].startswith("unparsable: ")
    assert frame["max_similarity"].isna().all() and frame["in_domain"].tolist() == [None] * 5  # no domain saved


def test_score_columns_equal_predict_and_slice_by_rows(tiny, tmp_path) -> None:
    model = tiny(members=3)
    model.save(tmp_path / "m")
    write_domain_for_model(tmp_path / "m", VALID)
    predictor = Predictor.from_path(tmp_path / "m")
    smiles = [BAD, *VALID, ""]
    frame, scored = predictor.predict(smiles), predictor.score(smiles)
    assert len(scored) == 6 and scored.canonical == frame["canonical_smiles"].tolist()
    np.testing.assert_array_equal(scored.mean[:, 0], frame["y"].to_numpy())
    np.testing.assert_array_equal(scored.std[:, 0], frame["y_std"].to_numpy())
    assert scored.errors == frame["error"].tolist() and scored.in_domain() == frame["in_domain"].tolist()
    part = scored[1:3]
    assert part.canonical == scored.canonical[1:3] and part.errors == [None, None] and len(part) == 2
    np.testing.assert_array_equal(part.similarity, scored.similarity[1:3])
    records = list(scored.records())
    assert records[0]["error"].startswith("unparsable") and records[0]["scores"] == {"y": None}
    assert records[1]["scores"]["y"] == pytest.approx(float(frame["y"][1])) and records[1]["in_domain"] is True
    assert records[1]["std"]["y"] == pytest.approx(float(frame["y_std"][1]))
    with pytest.raises(TypeError, match="slice"):
        scored[0]


def test_every_input_type_gives_the_same_scores(shipped: Predictor, tmp_path) -> None:
    smiles = [*VALID, BAD]
    tasks = shipped.task_names
    expected = shipped.predict(smiles)[tasks].to_numpy()
    table = pd.DataFrame({"id": range(5), "SMILES": smiles})
    table.to_csv(tmp_path / "m.csv", index=False)
    table.to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    table.to_parquet(tmp_path / "m.parquet")
    (tmp_path / "m.smi").write_text("".join(f"{s} mol{i}\n" for i, s in enumerate(smiles)))
    inputs = [tuple(smiles), pd.Series(smiles), table, table.rename(columns={"SMILES": "structure_in"}),
              tmp_path / "m.csv", str(tmp_path / "m.tsv"), tmp_path / "m.parquet", tmp_path / "m.smi"]  # fmt: skip
    for x in inputs:
        col = "structure_in" if isinstance(x, pd.DataFrame) and "structure_in" in x else None
        frame = shipped.predict(x, smiles_col=col)
        np.testing.assert_array_equal(frame[tasks].to_numpy(), expected, err_msg=str(type(x)))
        assert frame["smiles"].tolist() == smiles
    with Chem.SDWriter(str(tmp_path / "m.sdf")) as writer:  # SDF holds molecules, so only the valid ones
        for s in VALID:
            writer.write(Chem.MolFromSmiles(s))
    from_sdf = shipped.predict(tmp_path / "m.sdf")
    np.testing.assert_allclose(from_sdf[tasks].to_numpy(), expected[:4], atol=1e-5)  # atoms renumbered
    assert from_sdf["canonical_smiles"].tolist() == [_canonical(s) for s in VALID]


def test_order_is_kept_with_invalid_rows_first_middle_and_last(tiny) -> None:
    predictor = Predictor(tiny())
    smiles = ["not a smiles", "CCO", "", "c1ccccc1N", None, "OCC(N)C(=O)O", BAD]
    frame = predictor.predict(smiles, batch_size=2)
    assert frame["smiles"].tolist() == smiles and list(frame.index) == list(range(7))
    for i, s in enumerate(smiles):
        if i in (1, 3, 5):
            assert frame["y"].iloc[i] == predictor.predict([s])["y"].iloc[0] and frame["error"].iloc[i] is None
        else:
            assert np.isnan(frame["y"].iloc[i]) and frame["canonical_smiles"].iloc[i] is None
            assert frame["error"].iloc[i].split(":")[0] in ("unparsable", "empty")
    assert frame["error"].iloc[4] == "empty: missing value: no SMILES given"


def test_canonical_smiles_are_rdkit_canonical(tiny) -> None:
    smiles = ["OCC", "C1=CC=CC=C1", "C(C(=O)O)N", "[NH3+]CC([O-])=O"]
    frame = Predictor(tiny()).predict(smiles)
    assert frame["canonical_smiles"].tolist() == [_canonical(s) for s in smiles]
    assert frame["canonical_smiles"].tolist()[:2] == ["CCO", "c1ccccc1"]


def test_series_and_frame_index_is_kept_and_single_smiles_is_one_row(tiny) -> None:
    predictor = Predictor(tiny())
    series = pd.Series(["CCO", BAD], index=["a", "b"])
    assert list(predictor.predict(series).index) == ["a", "b"]
    assert list(predictor.predict(series.to_frame("smiles")).index) == ["a", "b"]
    single = predictor.predict("c1ccccc1O")
    assert len(single) == 1 and single["canonical_smiles"].iloc[0] == "Oc1ccccc1"


def test_inputs_that_cannot_be_read_say_what_to_do(tiny, tmp_path) -> None:
    predictor = Predictor(tiny())
    with pytest.raises(ValueError, match="smiles_col"):
        predictor.predict(pd.DataFrame({"name": ["ethanol"]}))
    with pytest.raises(FileNotFoundError, match="not a file"):
        predictor.predict(tmp_path / "missing.csv")
    with pytest.raises(FileNotFoundError, match="not a file"):
        predictor.predict("missing.csv")
    with pytest.raises(TypeError, match="model that scores"):
        Predictor("model")


def test_ensemble_spread_column_only_for_several_members(tiny) -> None:
    smiles = ["CCO", BAD, "c1ccccc1N"]
    single = Predictor(tiny()).predict(smiles)
    assert "y_std" not in single.columns
    twins = Predictor(tiny(members=2, identical=True)).predict(smiles)
    assert list(twins.columns[2:4]) == ["y", "y_std"]
    np.testing.assert_allclose(twins["y"], single["y"], rtol=1e-6)
    assert (twins["y_std"].iloc[[0, 2]] == 0).all() and np.isnan(twins["y_std"].iloc[1])
    pair = tiny(members=2)
    frame = Predictor(pair).predict(smiles)
    each = [Predictor(type(pair)([m], "classification", ["y"])).predict(smiles)["y"].to_numpy() for m in pair.members]
    np.testing.assert_allclose(frame["y"], (each[0] + each[1]) / 2, rtol=1e-5)
    np.testing.assert_allclose(frame["y_std"], np.abs(each[0] - each[1]) / 2, rtol=1e-4, atol=1e-7)  # ddof=0


def test_embeddings_are_member_zero_pooled_vectors_with_nan_rows(shipped: Predictor) -> None:
    emb = shipped.embed(["CCO", BAD, "c1ccccc1O", ""])
    assert emb.shape == (4, 64) and emb.dtype == np.float32  # tox21-fast: GIN 5x64
    assert np.isnan(emb[[1, 3]]).all() and np.isfinite(emb[[0, 2]]).all()
    np.testing.assert_allclose(emb[2], shipped.embed(["c1ccccc1O"])[0], rtol=1e-5, atol=1e-6)


def test_domain_fills_max_similarity_and_in_domain(tiny, tmp_path) -> None:
    training = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O"]
    predictor = Predictor(tiny(), TrainingDomain.from_smiles(training))
    frame = predictor.predict(["OCC", "CCCCCCCCCCCCCCCCCC(=O)O", BAD])
    assert frame["max_similarity"].iloc[0] == 1.0 and frame["in_domain"].iloc[0] is True
    assert frame["max_similarity"].iloc[1] < 0.35 and frame["in_domain"].iloc[1] is False
    assert np.isnan(frame["max_similarity"].iloc[2]) and frame["in_domain"].iloc[2] is None
    tiny().save(tmp_path / "model")
    assert Predictor.from_path(tmp_path / "model").domain is None
    write_domain_for_model(tmp_path / "model", training)
    loaded = Predictor.from_path(tmp_path / "model", threshold=0.99)
    assert len(loaded.domain) == 3 and loaded.predict(["CCO"])["in_domain"].iloc[0] is True


def test_notebook_display(shipped: Predictor) -> None:
    summary = shipped._repr_html_()
    assert summary.startswith("<table>") and "tox21" in summary and "NR-AhR" in summary and "roc_auc" in summary
    grid = shipped.show(["CCO", BAD, "c1ccccc1O"], task="SR-MMP")
    html = grid._repr_html_()
    score = grid.frame["SR-MMP"].iloc[0]
    assert "<svg" in html and grid.legends == [f"SR-MMP: {score:.3f}", "invalid: unparsable", grid.legends[2]]
    assert "<table" in html and grid.shown == 3 and "showing" not in html
    capped = shipped.show([*VALID, "CCN"], max_mols=2)
    assert capped.shown == 2 and len(capped.frame) == 5 and "showing 2 of 5 molecules" in capped._repr_html_()
    assert capped.legends[0].startswith("NR-AR: ")  # the first task by default
    assert f"Predictor(name='{DEFAULT_MODEL}'" in repr(shipped)


def test_one_precision_default_for_notebook_screen_and_model(monkeypatch, tmp_path) -> None:
    """On a device with native bf16 every interface scores in bf16 by default: the same numbers everywhere."""
    import pandas as pd

    import gnnpt.nn.precision
    from gnnpt.screening import screen

    monkeypatch.setattr(gnnpt.nn.precision, "native_bf16", lambda device: True)
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC"]
    predictor = gnnpt.load("tox21-fast")
    assert predictor.precision == "bf16"
    model = predictor.model
    bf16 = score_molecules(model, smiles, precision="bf16").mean
    fp32 = score_molecules(model, smiles, precision="fp32").mean
    assert not np.array_equal(bf16, fp32)  # the check below can tell the two apart
    np.testing.assert_array_equal(score_molecules(model, smiles).mean, bf16)
    np.testing.assert_array_equal(predictor.predict(smiles)[model.output_names()].to_numpy(), bf16)
    pd.DataFrame({"smiles": smiles}).to_csv(tmp_path / "in.csv", index=False)
    screen(tmp_path / "in.csv", model, tmp_path / "out.csv", progress=False)
    screened = pd.read_csv(tmp_path / "out.csv")[model.output_names()].to_numpy()
    np.testing.assert_allclose(screened, bf16, atol=1e-6)  # CSV text round-trip of float32
