"""One-off: rewrite models/*/card.json as card_format 2 (serwidgets.card), then delete this script.

Format 1 cards kept the key order of each file, an optional ``kind`` (absent = network),
``format`` for ``card_format``, a top-level ``protocol`` repeating ``metrics["protocol"]``,
``sample_rate`` repeating the feature config's, ``net["input_shape"]`` repeating
``input_shape``, and the encoder card's details as extra keys. Format 2 has one dataclass per
kind and canonical JSON. Run once from the repository root: ``python scripts/migrate_cards.py``.
"""

import json
from pathlib import Path

from serwidgets.card import CARD, CARD_FORMAT, Card

ENCODER_RENAMED = {"max_difference_vs_numpy_reference": "max_difference"}


def migrate(old: dict) -> dict:
    new = dict(old)
    new.pop("format", None)
    new["card_format"] = CARD_FORMAT
    kind = new.setdefault("kind", "network")
    protocol = new.pop("protocol", None)
    if protocol is not None and new.get("metrics", {}).get("protocol", protocol) != protocol:
        raise SystemExit(f"{old.get('name')}: protocol {protocol!r} differs from metrics['protocol']")
    if kind == "network":
        assert new.pop("sample_rate") == new["feature_config"]["sample_rate"]
        assert new["net"].pop("input_shape") == new["input_shape"]
    if kind == "encoder":
        for before, after in ENCODER_RENAMED.items():
            new[after] = new.pop(before)
    return new


for path in sorted(Path("models").glob(f"*/{CARD}")):
    card = Card.from_dict(migrate(json.loads(path.read_text())))
    card.write(path.parent)
    Card.read(path.parent)  # sha256 of every file still matches
    print(f"{path}: {type(card).__name__}")
