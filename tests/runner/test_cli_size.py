"""``--size WxH``: the console window's size, checked before anything starts."""

from __future__ import annotations

import pytest

from runner.cli import parse_args


@pytest.mark.parametrize("text, size", [("1440x900", (1440, 900)), ("1600X1000", (1600, 1000)),
                                        (" 800x600 ", (800, 600))])
def test_size_takes_width_x_height(text, size):
    assert parse_args(["--size", text]).size == size


def test_without_size_the_saved_geometry_is_kept():
    assert parse_args([]).size is None


@pytest.mark.parametrize("text, why", [
    ("1440", "expected WIDTHxHEIGHT"),
    ("1440x", "expected WIDTHxHEIGHT"),
    ("wide", "expected WIDTHxHEIGHT"),
    ("1440x-900", "expected WIDTHxHEIGHT"),
    ("0x900", "must be from 400x300"),
    ("1440.5x900", "expected WIDTHxHEIGHT"),
    ("100x100", "must be from 400x300"),
    ("99999x900", "must be from 400x300"),
])
def test_a_bad_size_is_refused_naming_the_value(text, why, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--size", text])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--size" in err and why in err and repr(text) in err
