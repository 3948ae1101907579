"""YAML's tags for the scalars catalog files hold, and how YAML 1.1 resolves a plain scalar.

The readers (`load.py`, `fastyaml.py`) and the writer (`dump.py`) all go by YAML 1.1's reading,
PyYAML's: what one writes as text, the others read back as text.
"""

from __future__ import annotations

import yaml

STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"
TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

_RESOLVER = yaml.resolver.Resolver()


def yaml11_tag(text: str) -> str:
    """The tag YAML 1.1 gives `text` written as a plain scalar."""
    return str(_RESOLVER.resolve(yaml.ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]
