"""The fenced blocks of the user docs (README.md, docs/, benchmarks/README.md), each with the
marker comment on the line before it: `<!-- run: NAME -->`, `<!-- not run: REASON -->` or
`<!-- output: NAME -->`. The docs tests run the blocks marked to run; other tests run one block
by its name (`doc_block`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from support.paths import REPO

PAGES = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "benchmarks/README.md")
# Where the docs say a site is published; a loopback server's URL replaces it.
EXAMPLE_SITE = "https://images.example.com/catalog"
README_MAX_LINES = 150
RUNNABLE = ("sh", "python")
MARKER = re.compile(r"^<!-- (run|not run|output): (.+?) -->$")
REQUIREMENT_ID = re.compile(r"\b(?:FR|SC|NFR)-\d+\b")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page, with the marker comment on the line before it, if any."""

    page: Path
    line: int  # of the opening fence, counted from 1
    language: str
    text: str
    marker: str | None = None  # "run", "not run" or "output"
    label: str = ""  # the name of a run or output block, the reason of a block not run

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def page_blocks(page: Path) -> list[Block]:
    """Every fenced block of `page`, in order."""
    lines = page.read_text().splitlines()
    found: list[Block] = []
    start: int | None = None
    for number, line in enumerate(lines):
        if not line.startswith("```"):
            continue
        if start is None:
            start = number
            continue
        marked = MARKER.match(lines[start - 1]) if start > 0 else None
        found.append(
            Block(
                page=page,
                line=start + 1,
                language=lines[start][3:].strip(),
                text="\n".join(lines[start + 1 : number]) + "\n",
                marker=marked.group(1) if marked else None,
                label=marked.group(2).strip() if marked else "",
            )
        )
        start = None
    assert start is None, f"{page}:{start}: a fenced block is never closed"
    return found


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in page_blocks(page)]


def runnable_blocks() -> dict[str, Block]:
    return {b.label: b for b in all_blocks() if b.marker == "run"}


def doc_block(name: str) -> Block:
    """The block marked `<!-- run: NAME -->` in the docs."""
    return runnable_blocks()[name]


def expected_output(name: str) -> list[str]:
    """The lines of the block marked `<!-- output: NAME -->`, if there is one."""
    blocks = [b for b in all_blocks() if b.marker == "output" and b.label == name]
    return [line for b in blocks for line in b.text.splitlines() if line.strip()]


def prose(page: Path) -> str:
    """The page without its fenced blocks."""
    return re.sub(r"^```.*?^```$", "", page.read_text(), flags=re.DOTALL | re.MULTILINE)
