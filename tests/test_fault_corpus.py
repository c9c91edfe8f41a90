"""The fault corpus (modrwkv/bench/fault_corpus.py) sent through the served app's API, as visitors upload it.

Every odd file gets a correct result (the picture's shape, the spoken words, a forecast that continues the file's own
times), or a refusal that names the file by the name its user gave it, never by the server's temporary path; and after
each one its endpoint still serves the bundled example. One app, started as `python app.py` on a free local port,
serves the whole module; the `fault-corpus` command's own behaviour is specified at the end.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client

from modrwkv.bench.__main__ import main
from modrwkv.bench.app_load_server import StartedApp, started_app
from modrwkv.bench.fault_corpus import Fault, corpus, left_out, write_corpus
from modrwkv.bench.fault_corpus_run import GRADIO_UPLOADS, Outcome, ask, markdown, served_after

FAULTS = corpus()


@pytest.fixture(scope="module")
def app() -> Iterator[StartedApp]:
    with started_app() as started:
        yield started


@pytest.fixture(scope="module")
def client(app: StartedApp) -> Iterator[Client]:
    """One visitor's session for the whole corpus: a refusal must not spoil the session either."""
    visitor = Client(app.url, verbose=False, download_files=False)
    yield visitor
    visitor.close()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("fault-corpus"))


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_an_odd_file_gets_a_correct_result_or_a_refusal_naming_it(
    fault: Fault, app: StartedApp, client: Client, files: dict[str, Path]
) -> None:
    refused, text = ask(client, fault.endpoint, files[fault.name], fault.options)
    assert refused == fault.refused, text
    assert re.search(fault.expect, text), text
    if refused:
        assert fault.name in text, text
        assert str(app.temp_dir) not in text and GRADIO_UPLOADS not in text, text
    assert served_after(client, fault.endpoint) is None


def test_the_corpus_holds_every_kind_of_file_the_endpoints_take() -> None:
    endpoints = {f.endpoint for f in FAULTS}
    assert endpoints == {"/chat", "/transcribe", "/forecast"}
    assert len({f.name for f in FAULTS}) == len(FAULTS)


def test_heic_is_either_in_the_corpus_or_left_out_with_the_reason() -> None:
    has_heic = any(f.name.endswith(".heic") for f in FAULTS)
    assert has_heic != any(".heic" in name for name in left_out())


# -- the command ---------------------------------------------------------------------------------


def test_the_command_writes_the_chosen_files_of_the_corpus(tmp_path: Path) -> None:
    assert main(["fault-corpus", "--out", str(tmp_path), "--only", "pixel.png,umsatz_alt.xls"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pixel.png", "umsatz_alt.xls"]


def test_the_command_refuses_a_table_without_an_app_to_drive(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["fault-corpus", "--out", str(tmp_path), "--table", str(tmp_path / "t.md")]) == 2
    assert "--url or --serve" in capsys.readouterr().err


def test_the_command_refuses_a_file_not_in_the_corpus(capsys: pytest.CaptureFixture) -> None:
    assert main(["fault-corpus", "--serve", "--only", "holiday.bmp"]) == 2
    assert "not in the corpus: holiday.bmp" in capsys.readouterr().err


def test_the_command_records_each_file_of_a_running_app_in_its_table_and_json(app: StartedApp, tmp_path: Path) -> None:
    table, out = tmp_path / "corpus.md", tmp_path / "corpus.json"
    argv = ["fault-corpus", "--url", app.url, "--only", "pixel.png,thermostat.csv", "--table", str(table),
            "--json", str(out)]
    assert main(argv) == 0
    rows = [line for line in table.read_text().splitlines() if line.startswith("| `")]
    assert [row.split("|")[1].strip() for row in rows] == ["`pixel.png`", "`thermostat.csv`"]
    recorded = json.loads(out.read_text())
    assert recorded["counts"] == {"files": 2, "answered": 1, "refused": 1, "problems": 0, "next_request_failed": 0}
    assert "'thermostat.csv' has the same value (21) in every row" in recorded["files"][1]["text"]


def test_the_table_keeps_a_message_on_one_row_of_its_cell() -> None:
    outcome = Outcome("notes.csv", "/forecast", "odd", True, "line one\nline | two", 0.1, None)
    row = markdown([outcome], {}, "cmd").splitlines()[4]
    assert "refused: line one line \\| two" in row
