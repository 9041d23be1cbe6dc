"""``gnnpt screen``: a file in, scores out, with a summary; bad options are clear errors."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from gnnpt.cli.main import app


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: fast on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_screen_writes_scores_and_a_summary(tmp_path) -> None:
    path = tmp_path / "in.csv"
    pd.DataFrame({"mol": ["CCO", "bad(", "c1ccccc1O", "CCN"]}).to_csv(path, index=False)
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(app, ["screen", str(path), "-o", str(out), "--smiles-col", "mol", "--chunk-size", "2"])
    assert result.exit_code == 0, result.output
    assert "scored / invalid" in result.output and "3 / 1" in result.output
    frame = pd.read_parquet(out)
    assert frame["row"].tolist() == [0, 1, 2, 3] and frame["error"].notna().tolist() == [False, True, False, False]

    hits = tmp_path / "hits.csv"
    args = ["screen", str(path), "-o", str(hits), "--smiles-col", "mol", "--top-k", "1", "--sort-by", "NR-AhR",
            "--filter", "NR-AhR>=0", "--filter", "SR-MMP<1", "--model", "tox21-gnn"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(hits)) == 1 and pd.read_csv(f"{hits}.errors.csv")["row"].tolist() == [1]


def test_bad_options_are_clear_errors(tmp_path) -> None:
    path = tmp_path / "in.csv"
    pd.DataFrame({"smiles": ["CCO"]}).to_csv(path, index=False)
    runner = CliRunner()
    result = runner.invoke(app, ["screen", str(path), "-o", str(tmp_path / "o.csv"), "--filter", "NR-AR=1"])
    assert result.exit_code != 0 and "cannot read the filter" in result.output
    result = runner.invoke(app, ["screen", str(path), "-o", str(tmp_path / "o.txt")])
    assert result.exit_code != 0 and ".parquet" in result.output
    result = runner.invoke(app, ["screen", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_a_damaged_input_or_a_full_disk_is_one_line_and_resume_continues(tmp_path, monkeypatch) -> None:
    """Issue 16, item 9: a truncated gzip printed only "Aborted."; a full disk a 30-60 line traceback."""
    import errno
    import gzip

    import gnnpt.screening.writers as writers

    data = gzip.compress(("smiles\n" + "CCO\nCCN\n" * 2000).encode())
    (tmp_path / "cut.csv.gz").write_bytes(data[: len(data) // 2])
    result = CliRunner().invoke(app, ["screen", str(tmp_path / "cut.csv.gz"), "-o", str(tmp_path / "a.csv")])
    lines = [line for line in result.output.splitlines() if line.strip()]  # the progress bar may leave a blank line
    assert result.exit_code == 1 and "damaged gzip file" in result.output and len(lines) == 1
    (tmp_path / "lib.csv").write_text("smiles\n" + "CCO\nCCN\nc1ccccc1O\n" * 10)
    args = ["screen", str(tmp_path / "lib.csv"), "-o", str(tmp_path / "out.csv"), "--chunk-size", "7", "--workers", "1"]
    real, calls = writers.CsvOutput._append, []

    def disk_fills(self, data: bytes) -> None:
        calls.append(1)
        if len(calls) == 3:  # the header, one chunk, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        real(self, data)

    monkeypatch.setattr(writers.CsvOutput, "_append", disk_fills)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert "No space left on device" in result.output and "--resume" in result.output
    monkeypatch.setattr(writers.CsvOutput, "_append", real)
    assert CliRunner().invoke(app, [*args, "--resume"]).exit_code == 0
    resumed = pd.read_csv(tmp_path / "out.csv")
    assert resumed["row"].tolist() == list(range(30)) and resumed["error"].isna().all()
