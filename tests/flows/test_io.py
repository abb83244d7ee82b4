import pandas as pd
import pytest

from exportcast.flows.io import atomic_write, read_parquet, sha256_file, write_csv, write_parquet


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")

    def boom(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, boom)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_written_files_get_normal_permissions(tmp_path):
    path = write_csv(pd.DataFrame({"a": [1]}), tmp_path / "x.csv")
    assert path.stat().st_mode & 0o044  # readable by group/others like a normal write


def test_parquet_is_byte_deterministic_and_round_trips(tmp_path):
    df = pd.DataFrame({"k": ["b", "a"], "v": [1.5, 2.0], "d": pd.to_datetime(["2020-01-01", None])})
    a = write_parquet(df, tmp_path / "a.parquet")
    b = write_parquet(df.copy(), tmp_path / "b.parquet")
    assert sha256_file(a) == sha256_file(b)
    pd.testing.assert_frame_equal(read_parquet(a), df)
