"""Example manifests: each file says where it goes in a catalog and what validation must report.

A file's first lines are comments: `# place: RELATIVE/PATH.yaml` and, for invalid examples, one
`# expect: PATH:LINE:COL: FIELD: MESSAGE` per problem, where PATH is the place. They are
stripped before the file is installed, so line numbers count from the first line after them.
`# link: TARGET` installs a symbolic link to TARGET at the place instead of the file (TARGET
`../` paths are relative to the link), and `# link: fifo` a named pipe.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Example:
    name: str
    place: str
    body: bytes
    expected: tuple[str, ...]
    link: str | None = None

    def install(self, catalog: Path) -> Path:
        target = catalog / self.place
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        if self.link == "fifo":
            os.mkfifo(target)
        elif self.link is not None:
            target.symlink_to(self.link)
        else:
            target.write_bytes(self.body)
        return target


def read_example(path: Path) -> Example:
    lines = path.read_bytes().splitlines(keepends=True)
    place = ""
    link = None
    expected = []
    while lines and lines[0].startswith((b"# place:", b"# expect:", b"# link:")):
        key, _, value = lines.pop(0).decode().partition(":")
        if key == "# place":
            place = value.strip()
        elif key == "# link":
            link = value.strip()
        else:
            expected.append(value.strip())
    assert place, f"{path}: the first line must be '# place: ...'"
    return Example(path.stem, place, b"".join(lines), tuple(expected), link)


def examples(folder: Path) -> list[Example]:
    return [read_example(p) for p in sorted(folder.glob("*.yaml"))]
