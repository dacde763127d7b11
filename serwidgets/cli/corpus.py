"""``ser corpus``: what a corpus holds, read from its file names.

``ser corpus summary emodb /data/emodb`` prints the files per emotion, speaker, gender and
language, the corpus's faults counted by cause (unparseable names, unknown labels, empty or
missing files, ...) and, from a check of every file's header, the unreadable files by cause,
said apart and left out of every count (``--no-header-check`` skips the check); ``--task emotion6`` shows the task's view (and what it
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
    unreadable = None if args.no_header_check else corpora.check_readable(df, progress=not args.json)
    if unreadable:
        df = _readable(df, unreadable)
    if args.task:
        df = labels.select_task(df, args.task)
    info = {"corpus": args.name, "root": df.attrs["root"], **corpora.summary(df)}
    info["skipped_files"] = list(df.attrs["skipped"])
    info["fault_files"] = {cause: list(names) for cause, names in df.attrs.get("faults", {}).items() if names}
    if unreadable is not None:
        root = df.attrs["root"]
        info["unreadable"] = {cause: len(paths) for cause, paths in unreadable.items()}
        info["unreadable_files"] = {cause: [_relative(p, root) for p in paths]
                                    for cause, paths in unreadable.items() if paths}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(_format(info))
    return 0


def _readable(df, unreadable: dict):
    """The rows of ``df`` whose file passed the header check (the table's attrs kept)."""
    bad = {path for paths in unreadable.values() for path in paths}
    kept = df[~df["path"].astype(str).isin(bad)]
    kept.attrs = dict(df.attrs)
    return kept


def _relative(path: str, root: str) -> str:
    from pathlib import Path

    try:
        return str(Path(path).relative_to(Path(root).resolve()))
    except ValueError:
        return path


def _examples(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def _format(info: dict) -> str:
    genders = ", ".join(f"{g}: {v['speakers']} speakers, {v['files']} files" for g, v in info["genders"].items())
    lines = [
        f"{info['corpus']}: {info['files']} files, {len(info['speakers'])} speakers ({genders})",
        f"root: {info['root']}",
        "languages: " + (", ".join(f"{k} {v}" for k, v in info["languages"].items()) or "-"),
        f"skipped: {info['skipped']} file(s) left out"
        + (f", e.g. {_examples(info['skipped_files'])}" if info["skipped"] else ""),
        "faults: " + (", ".join(f"{cause} {n}" for cause, n in info["faults"].items() if n) or "none"),
    ]
    for cause, names in info["fault_files"].items():
        kept = " (kept, with the speaker's majority gender)" if cause == "gender_conflict" else ""
        lines.append(f"  {cause} ({len(names)}){kept}: {_examples(names)}")
    if "unreadable" in info:
        lines.append("unreadable (header check, not counted above): "
                     + (", ".join(f"{cause} {n}" for cause, n in info["unreadable"].items() if n) or "none"))
        lines += [f"  {cause} ({len(names)}): {_examples(names)}" for cause, names in info["unreadable_files"].items()]
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

    width = max(map(len, corpora.CORPORA)) + 2
    for name, loader in corpora.CORPORA.items():
        # A module with one loader describes its corpus; folder.py's two loaders describe themselves.
        doc = sys.modules[loader.__module__].__doc__ if loader.__name__ == "load" else loader.__doc__
        print(f"{name:<{width}}{doc.strip().splitlines()[0].replace('``', '')}")
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
    summary.add_argument("--no-header-check", action="store_true",
                         help="skip opening every file's header (the unreadable-file count)")
    summary.add_argument("--json", action="store_true", help="print JSON")
    summary.set_defaults(func=_summary)

    listing = sub.add_parser("list", help="list the supported corpora")
    listing.set_defaults(func=_list)
