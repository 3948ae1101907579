"""`cli.pull_cmd`: the progress drawn on a terminal and the quiet lines of a log."""

from __future__ import annotations

import io

from image_catalog.cli.pull_cmd import Drawing, Lines


def test_quiet_lines_for_a_log() -> None:
    out = io.StringIO()
    lines = Lines(out)
    lines.started("root.img", 100, 40)
    lines.advanced("root.img", 60)
    lines.finished("root.img", 60, False)
    lines.started("boot\x1b.img", 10, 10)
    lines.finished("boot\x1b.img", 0, True)
    assert out.getvalue().splitlines() == [
        "root.img: 100 bytes, resuming at 40",
        "root.img: verified, 60 bytes transferred",
        "boot\\x1b.img: 10 bytes",
        "boot\\x1b.img: already in place, verified",
    ]


def test_a_terminal_line_with_rate_and_time_left() -> None:
    out = io.StringIO()
    drawing = Drawing(out)
    drawing.started("root.img", 4 << 20, 0)
    drawing.began -= 1.0  # a second ago
    drawing.advanced("root.img", 1 << 20)
    drawing.close()
    text = out.getvalue()
    assert "1.0 MiB of 4.0 MiB, " in text
    assert "/s, 3 s left  root.img 25%" in text
    assert text.endswith("\r\x1b[K")
