"""``ser predict FILE...``: the emotion probabilities of each audio file.

Prints one block per file (top emotion first, marked "not sure" with the reason when the model
is not sure, e.g. "not sure — tune the model to your voice", then every label's probability in
the model's order), or with ``--json`` one JSON object ``{file: {"probabilities": {label:
probability}, "not_sure": reason}}`` (the reason "" when sure). Files that
cannot be used (unreadable, no speech, ...) are reported on stderr and make the exit code 1;
the other files are still predicted.
"""

from __future__ import annotations

import json
import sys


def run(args) -> int:
    from serwidgets.audio import AudioError
    from serwidgets.card import BundleError
    from serwidgets.model import load_model

    try:
        model = load_model(args.model, backend=args.backend)
    except (BundleError, FileNotFoundError) as error:
        print(f"ser predict: {error}", file=sys.stderr)
        return 2
    results, failed = {}, 0
    for path in args.files:
        try:
            analysis = model.analyze(path)
        except (AudioError, OSError) as error:
            print(f"ser predict: {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        results[path] = {"probabilities": analysis.as_dict(), "not_sure": analysis.not_sure}
        if not args.json:
            print(format_prediction(path, analysis.as_dict(), analysis.not_sure))
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


def format_prediction(path: str, probabilities: dict, not_sure: str = "") -> str:
    """One file's result: ``path: top (p)`` and an indented line per label.

    Examples
    --------
    >>> print(format_prediction("a.wav", {"angry": 0.75, "sad": 0.25}))
    a.wav: angry (0.750)
      angry  0.750
      sad    0.250
    >>> print(format_prediction("b.wav", {"angry": 0.52, "sad": 0.48}, "not sure — tune the model to your voice"))
    b.wav: angry (0.520, not sure — tune the model to your voice)
      angry  0.520
      sad    0.480
    """
    top = max(probabilities, key=probabilities.get)
    width = max(len(label) for label in probabilities) + 2
    lines = [f"{path}: {top} ({probabilities[top]:.3f}{', ' + not_sure if not_sure else ''})"]
    lines += [f"  {label:<{width}}{p:.3f}" for label, p in probabilities.items()]
    return "\n".join(lines)


def register(subparsers) -> None:
    from serwidgets.model import BACKENDS

    parser = subparsers.add_parser(
        "predict", help="emotion probabilities of audio files",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, mp3, webm, m4a, ...)")
    parser.add_argument("--model", default=None,
                        help="model bundle folder or name in models/ (default: $SER_MODEL, else models/ser-emotion6)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="what runs a network (default: LiteRT when the bundle has model.tflite)")
    parser.add_argument("--json", action="store_true", help='print JSON {file: {"probabilities": {label: probability}, "not_sure": reason}}')
    parser.set_defaults(func=run)
