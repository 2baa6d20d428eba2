"""Tables (encoding saved as JSON) and text (trained tokenizer, chunking), and hostile CSVs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.datasets.cache import load_small, open_inputs
from pipelines.datasets.ingest import ingest
from pipelines.datasets.limits import Limits
from pipelines.datasets.report import IngestError
from pipelines.datasets.tables import encode_row
from pipelines.datasets.text import chunk_ids
from tests.dataset_factories import table_csv, text_csv, write_zip


def test_table_encoding_is_saved_and_reapplies(tmp_path: Path, work: Path) -> None:
    result = ingest("table", table_csv(tmp_path / "t.csv"), "t.csv", work, {"target_column": "label"})
    recipe = json.loads((work / "cache" / "recipe.json").read_text())
    encoding = recipe["encoding"]
    assert result.task == "classification" and result.classes == ["no", "yes"]
    assert [f["kind"] for f in encoding["features"]] == ["numeric", "categorical", "numeric"]
    assert encoding["features"][0]["missing_indicator"] and encoding["features"][1]["missing_indicator"]
    assert recipe["features"] == ["age", "age__missing", "colour=blue", "colour=green", "colour=red",
                                  "colour__missing", "income"]
    inputs = open_inputs(work / "cache")
    assert inputs.shape == (60, 7) and np.isfinite(inputs).all()
    again = encode_row(encoding, {"age": "", "colour": "purple", "income": "50"})
    assert again.tolist()[:2] == [0.0, 1.0] and again.tolist()[2:6] == [0.0, 0.0, 0.0, 0.0]


def test_table_regression_target_and_missing_targets(tmp_path: Path, work: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i * 1.5}\n" for i in range(30)) + "31,\n")
    result = ingest("table", path, "r.csv", work, {"target_column": "y"})
    assert result.task == "regression" and result.classes == []
    assert load_small(work / "cache", "targets").dtype == np.float32
    assert [s["code"] for s in result.skipped] == ["missing_target"]


def test_table_target_column_must_exist(tmp_path: Path, work: Path) -> None:
    with pytest.raises(IngestError) as caught:
        ingest("table", table_csv(tmp_path / "t.csv"), "t.csv", work, {"target_column": "nope"})
    assert caught.value.code == "csv_missing_column" and "nope" in caught.value.reason


@pytest.mark.parametrize(("content", "code"), [
    ("a,label\n" + "x" * 20_000 + ",1\n2,0\n", "csv_bad_field"),
    ("a,label\n\"" + "x" * 60_000 + "\n", "csv_bad_field"),  # an unterminated quote swallowing the file
    (",".join(f"c{i}" for i in range(100)) + ",label\n", "csv_too_many_columns"),
    ("a,label\n1,0\n2\x00,1\n", "csv_nul_byte"),
    ("a,label\n1,0,7\n", "csv_bad_row"),
    ("", "csv_empty"),
])
def test_hostile_csvs_fail_naming_the_file(tmp_path: Path, work: Path, small_limits: Limits,
                                           content: str, code: str) -> None:
    path = tmp_path / "hostile.csv"
    path.write_text(content)
    with pytest.raises(IngestError) as caught:
        ingest("table", path, "hostile.csv", work, {"target_column": "label"}, small_limits)
    assert caught.value.code == code and caught.value.file == "hostile.csv"


def test_non_utf8_csv(tmp_path: Path, work: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("a,label\ncafé,1\nthé,0\n".encode("latin-1"))
    with pytest.raises(IngestError) as caught:
        ingest("table", path, "latin.csv", work, {"target_column": "label"})
    assert caught.value.code == "csv_not_utf8"


def test_table_inside_a_zip(tmp_path: Path, work: Path) -> None:
    archive = write_zip(tmp_path / "t.zip", {"data/t.csv": table_csv(tmp_path / "t.csv").read_bytes()})
    result = ingest("table", archive, "t.zip", work, {"target_column": "label"})
    assert len(result.samples) == 60


def test_text_tokenizer_is_trained_and_long_documents_are_chunked(tmp_path: Path, work: Path) -> None:
    result = ingest("text", text_csv(tmp_path / "x.csv"), "x.csv", work,
                    {"vocab_size": 120, "max_length": 16, "stride": 4})
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(work / "cache" / "tokenizer.json"))
    assert "good" in tokenizer.decode(tokenizer.encode("good awful").ids)
    inputs = open_inputs(work / "cache")
    assert inputs.shape[1] == 16 and inputs.dtype == np.int32
    chunks_of_first = [s for s in result.samples if s["group"] == "doc2"]
    assert len(chunks_of_first) > 1 and len({s["split"] for s in chunks_of_first}) == 1
    assert result.stats["documents"] == 40 and result.stats["chunks"] == len(result.samples)


def test_chunking_windows_overlap_by_stride() -> None:
    assert chunk_ids(list(range(10)), 4, 1, 99) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert chunk_ids([], 4, 1, 99) == [[]]
    assert len(chunk_ids(list(range(1000)), 4, 0, 5)) == 5


def test_text_rows_with_nul_or_empty_text_are_skipped(tmp_path: Path, work: Path) -> None:
    path = text_csv(tmp_path / "x.csv")
    path.write_text(path.read_text() + ",pos\n")
    result = ingest("text", path, "x.csv", work, {"vocab_size": 100, "max_length": 32, "stride": 0})
    assert [s["code"] for s in result.skipped] == ["empty_row"]
