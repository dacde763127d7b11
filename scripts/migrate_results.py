"""One-off (issue 21): rewrite results/*.json and results/experiments/*.json with the keys of
serwidgets.results.Result, and their .md reports. Run once, committed with its output, deleted
in the next commit (history keeps it).

What changes, file by file (nothing measured is recomputed):

- ``model`` -> ``classifier``; ``speaker_normalised`` -> ``speaker_norm``.
- Recipes hold the classifier's parameters only (``Classifier.to_recipe``): the baseline's
  ``classifier`` (its estimator) -> ``estimator``, with the defaults of that time filled in
  (``feature_set`` "stats", ``speaker_norm`` false); the learner kind (``model``) leaves the
  recipe; an encoder head's ``encoder: "default"`` -> null (the shipped encoder).
- ``seed`` (of the splits and draws) is recorded: 0, what every file was run with.
- ``audio_options`` missing: the settings of that time (before DC removal), as the
  reproduction test assumed; ``feature_config`` missing: the defaults, as it assumed too;
  an encoder head has none (it was a log-mel default that nothing read).
- ``calibration``: ``kind`` "varied" -> ``draw`` "round-robin" (what it was: round-robin over
  the speaker's emotions); ``clips_used_for_calibration`` -> ``clips_used``; the prose
  ``protocol`` key goes (the report writes it).
- Folds: ``n_train`` counts every row given to ``fit`` (a CNN's validation speakers included,
  as ``NetClassifier.fit`` now holds them out itself; ``n_val`` says how many); what the
  classifier chose is recorded where the recipe fixed it (``C``, ``layers``); keys that were
  always empty for a kind (``best_epoch`` of a baseline, ``n_val`` 0) go.
- Keys never recorded by older files (``environment``, ``skipped_files``, ``corpus_faults``,
  ``per_corpus_classes``, ``per_language``, loco keys) are null.

Run: ``.venv/bin/python scripts/migrate_results.py`` then
``.venv/bin/python scripts/make_results_table.py --readme README.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serwidgets import results  # noqa: E402
from serwidgets.audio import AudioOptions  # noqa: E402
from serwidgets.features import FeatureConfig  # noqa: E402

DRAWS = {"varied": "round-robin", "neutral": "neutral"}


def recipe(kind, old):
    old = {k: v for k, v in old.items() if k != "model"}
    if kind == "baseline":
        estimator = old.get("estimator", old.get("classifier", "logreg"))
        return {"feature_set": old.get("feature_set", "stats"), "estimator": estimator, "C": old["C"],
                "speaker_norm": bool(old.get("speaker_norm", False)), "seed": old.get("seed", 0)}
    if kind == "whisper":
        return {**old, "encoder": None if old.get("encoder") in (None, "default") else old["encoder"]}
    return old


def fold(kind, recipe, old):
    new = {k: old[k] for k in ("name", "n_train", "n_test", "UA", "WA", "seconds")}
    if kind == "cnn":
        new["n_train"] += old["n_val"]
        new.update(n_val=old["n_val"], best_epoch=old.get("best_epoch"))
    elif kind == "baseline":
        new["C"] = old.get("C", recipe["C"])
    else:
        new.update(layers=old.get("layers", recipe["layers"]), C=old.get("C", recipe["C"]))
    return new


def migrate(old: dict) -> results.Result:
    old = dict(old)
    kind = old.pop("model") if "model" in old else old.pop("classifier")
    new_recipe = recipe(kind, old.pop("recipe"))
    assert new_recipe.get("seed", 0) == 0, "every committed result was run with seed 0"
    speaker_norm = bool(old.pop("speaker_normalised", old.pop("speaker_norm", False)))
    calibration = old.pop("calibration", None)
    if calibration is not None:
        calibration = {"clips": calibration["clips"], "draw": DRAWS[calibration["kind"]],
                       "transductive": calibration["transductive"],
                       "speakers_calibrated": calibration["speakers_calibrated"],
                       "speakers_not_scored": calibration["speakers_not_scored"],
                       "clips_used": calibration["clips_used_for_calibration"]}
    feature_config = old.pop("feature_config", None)
    if kind == "whisper":
        feature_config = None
    elif feature_config is None:
        feature_config = FeatureConfig().to_dict()
    audio_options = old.pop("audio_options", None) or AudioOptions(remove_dc=False).to_dict()
    folds = [fold(kind, new_recipe, f) for f in old.pop("folds")]
    return results.Result.from_dict({
        **old, "classifier": kind, "recipe": new_recipe, "seed": 0, "speaker_norm": speaker_norm,
        "calibration": calibration, "feature_config": feature_config, "audio_options": audio_options,
        "folds": folds,
    })


def main() -> None:
    for directory in (REPO / "results", REPO / "results" / "experiments"):
        for path in sorted(directory.glob("*.json")):
            result = migrate({**json.loads(path.read_text()), "name": path.stem})
            results.write_results(result, path.stem, directory)
            print(f"{path.relative_to(REPO)}: {result.classifier}, {len(result.folds)} folds")


if __name__ == "__main__":
    main()
