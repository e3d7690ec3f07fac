"""The `nexus` command line: data commands, exit codes and one-line errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.support.market import hourly_csv


@pytest.fixture
def nexus(runtime):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args))


def test_import_list_show_export(nexus, tmp_path):
    file = tmp_path / "candles.csv"
    file.write_bytes(hourly_csv(30))
    done = nexus("data", "import", str(file), "--exchange", "upload", "--symbol", "test", "--interval", "1h")
    assert done.exit_code == 0, done.output
    assert "30 candles added" in done.output
    listing = nexus("data", "list")
    assert "upload/TEST/1h" in listing.output and "30" in listing.output
    shown = nexus("data", "show", "upload/TEST/1h", "--start", "2024-01-02")
    assert shown.exit_code == 0 and shown.output.splitlines()[0] == "timestamp,open,high,low,close,volume"
    assert len(shown.output.splitlines()) == 7
    exported = nexus("data", "export", "upload/TEST/1h", "--format", "json", "--name", "lona-test")
    assert exported.exit_code == 0 and "exports/lona-test.json" in exported.output


def test_bad_input_exits_2_with_one_line(nexus, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(hourly_csv(5).replace(b",10.0,11.0,9.0,", b",10.0,8.0,9.0,", 1))
    done = nexus("data", "import", str(bad), "--exchange", "upload", "--symbol", "T", "--interval", "1h")
    assert done.exit_code == 2
    assert done.output.strip().splitlines() == ["error: bad.csv, row 1: high < low (high=8.0, low=9.0)"]
    assert nexus("data", "show", "upload/T/7m").exit_code == 2
    assert nexus("data", "show", "nowhere/X/1d").exit_code == 2
    missing = nexus("data", "import", str(tmp_path / "nope.csv"), "--exchange", "a", "--symbol", "B",
                    "--interval", "1d")
    assert missing.exit_code == 2 and "No such file" in missing.output


def test_huge_file_refused_before_reading(nexus, tmp_path):
    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper, nothing read
    done = nexus("data", "import", str(huge), "--exchange", "a", "--symbol", "B", "--interval", "1d")
    assert done.exit_code == 2 and "import limit" in done.output


def test_demo_seed(nexus):
    done = nexus("demo", "seed")
    assert done.exit_code == 0 and "26 dataset(s) seeded" in done.output
