"""A user's bad upload gets a message about their own file, and the server log gets one line, not a traceback."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from gradio.utils import get_upload_folder

from app import image_tab
from app.errors import UserError, without_server_paths


@pytest.fixture
def uploaded_pdf() -> Path:
    """What Gradio keeps of a user's upload: their file name inside a hashed folder of its upload folder."""
    folder = Path(get_upload_folder()) / "3f9c0a7e1d2b4c5a6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "holiday photo.png"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n")
    yield path
    path.unlink()
    folder.rmdir()


def test_a_bad_upload_is_named_by_the_users_file_name_not_the_servers_path(uploaded_pdf: Path) -> None:
    with pytest.raises(UserError) as refused:
        list(image_tab.chat(str(uploaded_pdf), "What is in this photo?", [], 0, 0.3, 20))
    message = refused.value.message
    assert "holiday photo.png" in message and str(get_upload_folder()) not in message
    assert "is not an image" in message


def test_a_refusal_is_logged_in_one_line_without_a_traceback(uploaded_pdf: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="app.errors"), pytest.raises(UserError) as refused:
        list(image_tab.chat(str(uploaded_pdf), "What is in this photo?", [], 0, 0.3, 20))
    assert refused.value.print_exception is False  # Gradio prints no traceback for it
    [record] = caplog.records
    assert record.exc_info is None and "\n" not in record.getMessage() and "holiday photo.png" in record.getMessage()


def test_text_without_upload_paths_is_left_as_it_is() -> None:
    text = "'/srv/models/vision/config.json' is missing a key"
    assert without_server_paths(text) == text
