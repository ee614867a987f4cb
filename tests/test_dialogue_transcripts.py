"""The dialogue, end to end: every transcript in tests/transcripts/ runs against the real store
and the real test mail servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from transcript import run_transcript

TRANSCRIPTS = sorted((Path(__file__).parent / "transcripts").glob("*.txt"))


@pytest.mark.usefixtures("mail_env")
@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
async def test_transcript(path: Path, tmp_path: Path) -> None:
    await run_transcript(path, tmp_path / "state.db")
