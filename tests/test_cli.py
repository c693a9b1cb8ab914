"""The `cxrviewer` command line: a mistyped sub-command is said to be one, with the nearest command,
instead of opening the viewer on a file named after it (issue 20)."""

from __future__ import annotations

import pytest

from cxrviewer.cli import SUBCOMMANDS, main, unknown_command


def test_a_mistyped_command_names_the_nearest_one_and_opens_nothing(capsys, monkeypatch):
    monkeypatch.setattr("cxrviewer.cli.build_parser", lambda: pytest.fail("the viewer must not be started"))
    assert main(["analyse", "x.dcm"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'analyse'" in err and "did you mean `cxrviewer analyze`?" in err
    assert main(["-v", "modles"]) == 2 and "`cxrviewer models`" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2 and "did you mean" not in capsys.readouterr().err


def test_files_and_commands_are_not_taken_for_mistakes(tmp_path):
    study = tmp_path / "analyse"  # an existing file may have any name
    study.write_bytes(b"")
    assert unknown_command(str(study)) == ""
    assert unknown_command("missing.dcm") == "" and unknown_command("folder/study") == ""  # the viewer says why
    assert all(unknown_command(name) == "" for name in SUBCOMMANDS) and unknown_command("--version") == ""
