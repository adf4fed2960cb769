"""Every key of every channel type is documented, in config/pantau.toml and in the README."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.alert.channels import _KEYS as CHANNEL_KEYS  # the builder's own list of keys
from monitor.config import ChannelSettings

ROOT = Path(__file__).resolve().parents[2]
SECRET_SUFFIXES = ("", "_env", "_credential")


def toml_blocks() -> dict[str, str]:
    """Channel type -> its (commented) example table in config/pantau.toml."""
    text = (ROOT / "config" / "pantau.toml").read_text(encoding="utf-8")
    blocks: dict[str, str] = {}
    for block in re.split(r"^#? ?\[\[alerts\.channels\]\]", text, flags=re.M)[1:]:
        kind = re.search(r'^#? ?type = "(\w+)"', block, flags=re.M)
        assert kind, block
        blocks[kind.group(1)] = block
    return blocks


def documented(key: str, block: str) -> bool:
    return any(
        re.search(rf"^#? ?{key}{suffix} = ", block, flags=re.M) for suffix in SECRET_SUFFIXES
    )


def test_every_channel_type_has_every_key_in_the_example_config() -> None:
    blocks = toml_blocks()
    assert set(blocks) == set(CHANNEL_KEYS)
    for kind, (required, optional) in CHANNEL_KEYS.items():
        missing = sorted(k for k in required | optional if not documented(k, blocks[kind]))
        assert not missing, f"{kind}: {missing} not in config/pantau.toml"
    common = set(ChannelSettings.model_fields) - {"name", "type"}
    assert all(any(documented(k, b) for b in blocks.values()) for k in common)


def test_every_channel_type_has_every_key_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\s*\| `(\w+)` \| (.+) \|$", readme, flags=re.M)
        if m.group(1) in CHANNEL_KEYS
    }
    assert set(rows) == set(CHANNEL_KEYS)
    for kind, (required, optional) in CHANNEL_KEYS.items():
        missing = sorted(k for k in required | optional if f"`{k}`" not in rows[kind])
        assert not missing, f"{kind}: {missing} not in the README's channel table"
    for key in set(ChannelSettings.model_fields):
        assert f"`{key}`" in readme
