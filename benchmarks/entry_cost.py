"""CPU time one catalog entry costs in a checking worker, stage by stage.

python benchmarks/entry_cost.py --entries 5000
python benchmarks/entry_cost.py --catalog /tmp/bench20k

Each image file is read and parsed, then its schema validated (`model_validate`), its own checks
run (`entry_facts`), its site documents rendered (`render_entry`) and encoded, as `validate` and
`index build` do in their worker processes. Nothing is kept from one entry to the next. Each
stage is timed in thread CPU time (a busy machine moves it less than wall time) and printed in
microseconds per entry.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from image_catalog.build.entries import Hosts, render_entry
from image_catalog.catalog.facts import entry_facts
from image_catalog.catalog.loader import Loaded, display_path, load_catalog_files
from image_catalog.manifest.load import decode_text, parse_mapping
from image_catalog.manifest.model import CatalogImage
from image_catalog.site.contract import encode
from synthetic import generate

STAGES = ("parse", "model_validate", "entry_facts", "render_entry", "encode")


def measure(root: Path) -> tuple[int, dict[str, float]]:
    """(entries, CPU seconds per stage) over the catalog's image files."""
    catalog = load_catalog_files(root)
    vocabulary = catalog.vocabulary
    if vocabulary is None:
        raise SystemExit(f"{root}: no valid vocabulary.yaml")
    context = {"vocabulary": vocabulary}
    hosts = Hosts({r.model.spec.host: r.model for r in catalog.registries})
    relatives = catalog.image_paths
    files = [(relative, (root / relative).read_bytes()) for relative in relatives]
    spent = dict.fromkeys(STAGES, 0.0)
    clock = time.thread_time
    for relative, data in files:
        shown = display_path(root, relative)
        start = clock()
        parsed = parse_mapping(decode_text(data, shown), shown)
        parse_end = clock()
        image = CatalogImage.model_validate(parsed, context=context)
        validate_end = clock()
        loaded = Loaded(image, shown, root / relative, parsed)  # not timed: the loader's part
        facts_start = clock()
        facts = entry_facts(loaded, (), vocabulary)
        facts_end = clock()
        rendered = render_entry(image, hosts, vocabulary, None)
        render_end = clock()
        encode(rendered.summary), encode(rendered.document)
        encode_end = clock()
        if facts.findings:
            raise SystemExit(f"{shown}: not a valid entry ({facts.findings[0].message})")
        spent["parse"] += parse_end - start
        spent["model_validate"] += validate_end - parse_end
        spent["entry_facts"] += facts_end - facts_start
        spent["render_entry"] += render_end - facts_end
        spent["encode"] += encode_end - render_end
    return len(files), spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog", type=Path, help="an existing catalog (else one is generated)")
    parser.add_argument("--entries", type=int, default=5000, help="entries to generate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.catalog or generate(Path(tmp) / "catalog", args.entries)
        count, spent = measure(root)
    for stage in STAGES:
        print(f"{stage:15s} {spent[stage] / count * 1e6:7.1f} us per entry")
    checked = spent["model_validate"] + spent["entry_facts"] + spent["render_entry"]
    print(
        f"{'all three':15s} {checked / count * 1e6:7.1f} us per entry "
        "(validate, facts, render_entry)"
    )
    print(f"{count} entries of {root}")


if __name__ == "__main__":
    main()
