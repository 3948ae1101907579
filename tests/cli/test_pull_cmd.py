"""`cli.pull_cmd`: the progress drawn on a terminal and the quiet lines of a log."""

from __future__ import annotations

import io

from image_catalog.cli.pull_cmd import Drawing, Lines, Meter, progress_line

MiB = 1 << 20


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
    drawing.meters["root.img"].began -= 1.0
    drawing.advanced("root.img", 1 << 20)
    drawing.close()
    text = out.getvalue()
    assert "1.0 MiB of 4.0 MiB, " in text
    assert "/s, 3 s left | root.img 1.0 MiB of 4.0 MiB 25%, " in text
    assert text.endswith("\r\x1b[K")


def test_the_line_gives_bytes_rate_and_time_left_overall_and_per_file() -> None:
    meters = [
        # resumed at 10 MiB, 30 MiB moved in 3 s: 10 MiB/s, 60 MiB to go
        Meter("root.img", 100 * MiB, 40 * MiB, began=7.0, moved=30 * MiB),
        Meter("boot\x1b.img", 20 * MiB, 10 * MiB, began=8.0, moved=10 * MiB),
        Meter("done.img", 4 * MiB, 4 * MiB, began=5.0, moved=4 * MiB, active=False),
    ]
    assert progress_line(meters, began=5.0, now=10.0) == (
        "54.0 MiB of 124.0 MiB, 8.8 MiB/s, 8 s left"
        " | boot\\x1b.img 10.0 MiB of 20.0 MiB 50%, 5.0 MiB/s, 2 s left"
        " | root.img 40.0 MiB of 100.0 MiB 40%, 10.0 MiB/s, 6 s left"
    )


def test_nothing_moved_yet_says_no_time_left() -> None:
    line = progress_line([Meter("a", 10, 0, began=1.0)], began=1.0, now=1.0)
    assert line == "0 B of 10 B, 0 B/s, -- left | a 0 B of 10 B 0%, 0 B/s, -- left"
