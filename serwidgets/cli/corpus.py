"""``ser corpus``: what a corpus holds, read from its file names.

``ser corpus summary emodb /data/emodb`` prints the files per emotion, speaker and gender
and how many files were skipped; ``--task emotion6`` shows the task's view (and what it
drops); ``--json`` prints the same as JSON. ``ser corpus list`` lists the corpora.
"""

from __future__ import annotations

import json
import sys
import warnings


def _summary(args) -> int:
    from .. import corpora, labels

    options = {"include_song": True} if args.include_song else {}
    try:
        with warnings.catch_warnings():
            # The summary reports skipped files itself.
            warnings.simplefilter("ignore", corpora.CorpusWarning)
            df = corpora.load_corpus(args.name, args.path, **options)
    except (FileNotFoundError, ValueError, TypeError) as error:
        print(f"ser corpus: {error}", file=sys.stderr)
        return 2
    if args.task:
        df = labels.select_task(df, args.task)
    info = {"corpus": args.name, "root": df.attrs["root"], **corpora.summary(df)}
    info["skipped_files"] = list(df.attrs["skipped"])
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(_format(info))
    return 0


def _format(info: dict) -> str:
    genders = ", ".join(f"{g}: {v['speakers']} speakers, {v['files']} files" for g, v in info["genders"].items())
    lines = [
        f"{info['corpus']}: {info['files']} files, {len(info['speakers'])} speakers ({genders})",
        f"root: {info['root']}",
        f"skipped: {info['skipped']} file(s) with unrecognised names"
        + (f", e.g. {', '.join(info['skipped_files'][:3])}" if info["skipped"] else ""),
    ]
    if "task" in info:
        dropped = ", ".join(f"{e} {n}" for e, n in info["dropped"].items()) or "nothing"
        lines.append(f"task: {info['task']} (dropped: {dropped})")
    lines += ["", f"{'emotion':<14}{'files':>6}"]
    lines += [f"{emotion:<14}{n:>6}" for emotion, n in info["emotions"].items()]
    width = max([len("speaker")] + [len(s) for s in info["speakers"]]) + 2
    lines += ["", f"{'speaker':<{width}}{'gender':<8}{'files':>6}"]
    lines += [f"{s:<{width}}{v['gender'] or '-':<8}{v['files']:>6}" for s, v in info["speakers"].items()]
    return "\n".join(lines)


def _list(args) -> int:
    from .. import corpora

    for name, loader in corpora.CORPORA.items():
        # A module with one loader describes its corpus; folder.py's two loaders describe themselves.
        doc = sys.modules[loader.__module__].__doc__ if loader.__name__ == "load" else loader.__doc__
        print(f"{name:<10}{doc.strip().splitlines()[0].replace('``', '')}")
    return 0


def register(subparsers) -> None:
    from ..labels import TASKS

    parser = subparsers.add_parser(
        "corpus", help="summarise a speech emotion corpus", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="corpus_command", metavar="ACTION")
    sub.required = True

    summary = sub.add_parser("summary", help="files per emotion, speaker and gender")
    summary.add_argument("name", help="corpus name (see `ser corpus list`)")
    summary.add_argument("path", nargs="?", default=None, help="corpus folder (default: $SER_DATA/<name>)")
    summary.add_argument("--task", choices=sorted(TASKS), help="show only this task's emotions")
    summary.add_argument("--include-song", action="store_true", help="RAVDESS: include the song recordings")
    summary.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(func=_summary)

    listing = sub.add_parser("list", help="list the supported corpora")
    listing.set_defaults(func=_list)
