"""``ser export --format litert|onnx BUNDLE``: convert a bundle's Keras model for inference.

LiteRT (the default) rewrites the bundle's ``model.tflite`` (builtin ops only, LSTM unrolled);
ONNX writes ``model.onnx`` and needs ``pip install 'serwidgets[export]'``. Either way the
export is checked against the Keras model, and files written into the bundle are added to its
card with their sha256.
"""

from __future__ import annotations

import sys


def run(args) -> int:
    from serwidgets.card import BundleError
    from serwidgets.export import ExportError, export_bundle

    try:
        path = export_bundle(args.bundle, args.format, output=args.output)
    except (BundleError, ExportError, FileNotFoundError) as error:
        print(f"ser export: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model bundle to LiteRT or ONNX",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="model bundle folder")
    parser.add_argument("--format", choices=("litert", "onnx"), default="litert", help="default: %(default)s")
    parser.add_argument("--output", default=None,
                        help="output file (default: model.tflite / model.onnx inside the bundle)")
    parser.set_defaults(func=run)
