"""Figures for the teaching notebooks.

Each function draws one kind of figure with a title, labelled axes and units, and returns the
matplotlib ``Figure`` (or the ``Axes`` it drew on when one is passed in), so notebooks stay one
call per figure. matplotlib, seaborn and librosa are imported inside the functions: importing
this module is cheap.

Examples
--------
>>> from serwidgets import plots
>>> fig = plots.confusion_matrix([[8, 2], [1, 9]], labels=["angry", "sad"])  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "waveform_and_log_mel",
    "log_mels",
    "counts",
    "durations",
    "confusion_matrix",
    "per_speaker",
    "learning_curves",
    "accuracy_vs_takes",
    "metric_vs_snr",
    "calibration_curve",
    "reliability_diagram",
    "risk_coverage",
]


def _figure(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _close_if_new(fig, created: bool):
    # Notebooks display returned figures; closing stops pyplot from showing each one twice.
    if created:
        import matplotlib.pyplot as plt

        plt.close(fig)


def _mel_axis(ax, n_mels, config):
    import librosa

    # Label mel bands by their centre frequency so the axis reads in Hz.
    centres = librosa.mel_frequencies(n_mels + 2, fmin=config.fmin, fmax=config.fmax)[1:-1]
    ticks = np.linspace(0, n_mels - 1, 5).round().astype(int)
    ax.set_yticks(ticks + 0.5, [f"{centres[i]:.0f}" for i in ticks])
    ax.set_ylabel("Frequency (Hz, mel scale)")


def _draw_log_mel(ax, spec, config, vmin=None, vmax=None):
    n_mels, n_frames = spec.shape
    seconds = n_frames * config.hop_length / config.sample_rate
    image = ax.imshow(
        spec,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(0.0, seconds, 0.0, n_mels),
        interpolation="nearest",
        vmin=vmin,
        vmax=vmax,
    )
    _mel_axis(ax, n_mels, config)
    ax.set_xlabel("Time (s)")
    return image


def _level_unit(config) -> str:
    return "Level (dB)" if config.normalization == "none" else "Standardised log-mel (z)"


def waveform_and_log_mel(y, sr, spec=None, config=None, title=None):
    """Plot a waveform above its log-mel spectrogram, on one time axis.

    Parameters
    ----------
    y : np.ndarray
        Mono samples, shape ``(n,)``.
    sr : int
        Sample rate of ``y`` in Hz.
    spec : np.ndarray, optional
        Log-mel spectrogram ``(n_mels, frames)``; computed with :func:`serwidgets.features.log_mel`
        when omitted.
    config : serwidgets.features.FeatureConfig, optional
        Feature settings of ``spec`` (hop, mel range, normalisation); the default config if omitted.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from serwidgets.audio import TARGET_SR
    >>> y = np.sin(2 * np.pi * 220 * np.arange(TARGET_SR) / TARGET_SR).astype("float32")
    >>> fig = waveform_and_log_mel(y, TARGET_SR, title="220 Hz tone")
    """
    import matplotlib.pyplot as plt

    from serwidgets import features

    config = config or features.FeatureConfig()
    if spec is None:
        spec = features.log_mel(y, config)

    fig, (ax_wave, ax_spec) = plt.subplots(
        2, 1, figsize=(8, 4.5), sharex=True, height_ratios=(1, 2), layout="constrained"
    )
    t = np.arange(len(y)) / sr
    ax_wave.plot(t, y, linewidth=0.5, color="tab:blue")
    ax_wave.set_ylabel("Amplitude\n(full scale)")
    ax_wave.set_ylim(-1.0, 1.0)

    image = _draw_log_mel(ax_spec, spec, config)
    # One colour bar beside both panels keeps their time axes aligned.
    fig.colorbar(image, ax=[ax_wave, ax_spec], label=_level_unit(config), pad=0.01)
    fig.suptitle(title or "Waveform and log-mel spectrogram")
    _close_if_new(fig, True)
    return fig


def log_mels(specs, config=None, title=None):
    """Log-mel spectrograms side by side on one colour scale, e.g. before and after augmentation.

    Parameters
    ----------
    specs : Mapping[str, np.ndarray]
        Panel title -> log-mel spectrogram ``(n_mels, frames)``.
    config : serwidgets.features.FeatureConfig, optional
        Feature settings the spectrograms were made with (default config if omitted).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = log_mels({"clean": spec, "white noise, 5 dB": noisy_spec})  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    from serwidgets import features

    config = config or features.FeatureConfig()
    names = list(specs)
    # One colour scale for all panels, so a change in level shows as a change in colour.
    vmin = min(float(np.min(specs[n])) for n in names)
    vmax = max(float(np.max(specs[n])) for n in names)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names) + 1, 3.2),
                             sharey=True, layout="constrained", squeeze=False)
    for ax, name in zip(axes[0], names):
        image = _draw_log_mel(ax, specs[name], config, vmin, vmax)
        ax.set_title(name)
    for ax in axes[0][1:]:
        ax.set_ylabel("")
    fig.colorbar(image, ax=axes[0].tolist(), label=_level_unit(config), pad=0.01)
    if title:
        fig.suptitle(title)
    _close_if_new(fig, True)
    return fig


def counts(df, column, hue=None, order=None, title=None, ax=None):
    """Bar plot of how many rows (recordings) fall in each value of ``column``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per recording, e.g. from :func:`serwidgets.corpora.load_corpus`.
    column : str
        Column to count, e.g. ``"emotion"`` or ``"speaker"``.
    hue : str, optional
        Column that splits each bar, e.g. ``"corpus"`` or ``"gender"``.
    order : sequence of str, optional
        Order of the bars; by decreasing count if omitted.
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The new figure, or ``ax`` when one was passed.

    Examples
    --------
    >>> fig = counts(df, "emotion", hue="corpus")  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    created = ax is None
    fig, ax = _figure(ax, (8, 3.5))
    if order is None:
        order = df[column].value_counts().index.tolist()
    sns.countplot(data=df, x=column, hue=hue, order=order, ax=ax)
    ax.set_xlabel(column.capitalize())
    ax.set_ylabel("Recordings (count)")
    ax.set_title(title or f"Recordings per {column}")
    if sum(len(str(value)) for value in order) > 60:
        # Too many characters for one horizontal row of labels at this width.
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    if hue is not None:
        # Outside the axes, the legend never hides a bar.
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.01, 1.0), title=hue)
    _close_if_new(fig, created)
    return fig if created else ax


def durations(df, column="duration", hue="corpus", mark=None, title=None, ax=None):
    """Histogram of recording durations in seconds.

    Parameters
    ----------
    df : pandas.DataFrame
        Must hold ``column`` (seconds).
    column : str
        Duration column.
    hue : str or None
        Column drawn as separate, overlaid histograms (``None`` for one).
    mark : float, optional
        A duration in seconds to draw as a dashed vertical line, e.g. the model's input length.
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes

    Examples
    --------
    >>> fig = durations(df, hue="corpus", mark=3.0)  # doctest: +SKIP
    """
    import seaborn as sns

    created = ax is None
    fig, ax = _figure(ax, (8, 3.5))
    sns.histplot(data=df, x=column, hue=hue, bins=40, element="step", ax=ax)
    if mark is not None:
        ax.axvline(mark, color="black", linestyle="--", linewidth=1)
        ax.annotate(f" {mark:g} s", (mark, 1.0), xycoords=("data", "axes fraction"),
                    va="top", ha="left")
    ax.set_xlabel("Duration (s)")
    ax.set_ylabel("Recordings (count)")
    ax.set_title(title or "Recording durations")
    _close_if_new(fig, created)
    return fig if created else ax


def confusion_matrix(matrix, labels, normalize=True, title=None, ax=None):
    """Heatmap of a confusion matrix (rows: true emotion, columns: predicted).

    Parameters
    ----------
    matrix : array_like, shape (k, k)
        Counts, ``matrix[i, j]`` = recordings of class ``i`` predicted as ``j``.
    labels : sequence of str
        Class names in matrix order.
    normalize : bool
        Show each row as percentages of its true class (the diagonal is then per-class recall,
        whose mean is UA); otherwise raw counts.
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes

    Examples
    --------
    >>> fig = confusion_matrix([[8, 2], [1, 9]], labels=["angry", "sad"])  # doctest: +SKIP
    """
    import seaborn as sns

    matrix = np.asarray(matrix, dtype=float)
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        values = 100.0 * matrix / np.where(totals == 0, 1.0, totals)
        fmt, unit = ".0f", "% of true class"
    else:
        values, fmt, unit = matrix, ".0f", "recordings (count)"
    created = ax is None
    size = 1.0 + 0.7 * len(labels)
    fig, ax = _figure(ax, (size + 1.5, size))
    sns.heatmap(
        values,
        annot=True,
        fmt=fmt,
        cmap="Blues",
        vmin=0,
        vmax=100 if normalize else None,
        xticklabels=labels,
        yticklabels=labels,
        square=True,
        cbar_kws={"label": unit},
        ax=ax,
    )
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("Predicted emotion")
    ax.set_ylabel("True emotion")
    ax.set_title(title or "Confusion matrix")
    _close_if_new(fig, created)
    return fig if created else ax


def per_speaker(scores, metric="UA", title=None, ax=None):
    """Bar plot of a metric per test speaker, with its mean as a dashed line.

    Parameters
    ----------
    scores : Mapping[str, float] or pandas.Series
        Speaker -> metric in [0, 1] (e.g. UA of the fold where that speaker was held out).
    metric : str
        Metric name for the axis label.
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes

    Examples
    --------
    >>> fig = per_speaker({"emodb:03": 0.71, "emodb:08": 0.64})  # doctest: +SKIP
    """
    from matplotlib.patches import Patch

    speakers = list(scores.keys())
    values = 100.0 * np.asarray([scores[s] for s in speakers], dtype=float)
    # "emodb:03" -> "03" when every speaker is from one corpus; the corpus goes in the axis label.
    corpora = {str(s).partition(":")[0] for s in speakers if ":" in str(s)}
    names, xlabel = speakers, "Held-out speaker"
    if len(corpora) == 1 and all(":" in str(s) for s in speakers):
        names = [str(s).partition(":")[2] for s in speakers]
        xlabel = f"Held-out speaker ({corpora.pop()})"
    created = ax is None
    fig, ax = _figure(ax, (max(5.0, 0.3 * len(speakers) + 2), 3.5))
    # One colour per corpus when speakers come from several.
    corpus_of = [str(s).partition(":")[0] if ":" in str(s) else "" for s in speakers]
    colours = dict(zip(dict.fromkeys(corpus_of), [f"C{i}" for i in range(len(set(corpus_of)))]))
    ax.bar(range(len(speakers)), values, color=[colours[c] for c in corpus_of])
    mean = ax.axhline(values.mean(), color="black", linestyle="--", linewidth=1,
                      label=f"mean over speakers {values.mean():.1f} %")
    handles = [mean]
    if len(colours) > 1:
        handles += [Patch(color=colour, label=corpus or "other") for corpus, colour in colours.items()]
    long_names = len(speakers) > 12 or max(len(n) for n in map(str, names)) > 4
    ax.set_xticks(range(len(speakers)), names, rotation=90 if long_names else 0)
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(title or f"{metric} per held-out speaker")
    ax.legend(handles=handles, loc="upper right", framealpha=1.0)
    _close_if_new(fig, created)
    return fig if created else ax


def learning_curves(history, metrics=("loss", "accuracy"), title=None):
    """Training and validation curves per epoch, one panel per metric.

    Parameters
    ----------
    history : Mapping[str, Sequence[float]]
        Per-epoch values, Keras ``History.history`` style: ``"loss"``, ``"val_loss"``, ...;
        an optional ``"best_epoch"`` (1-based) is marked with a dotted line.
    metrics : sequence of str
        Metrics to draw (each with its ``val_`` twin when present).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = learning_curves({"loss": [1.2, 0.9], "val_loss": [1.3, 1.1]}, metrics=["loss"])  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    metrics = [m for m in metrics if m in history]
    if not metrics:
        raise ValueError(f"history has none of the metrics; it has {sorted(history)}")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5),
                             layout="constrained", squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        epochs = np.arange(1, len(history[metric]) + 1)
        ax.plot(epochs, history[metric], marker="o", markersize=3, label="training")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], marker="o", markersize=3,
                    label="validation (unseen speakers)")
        if history.get("best_epoch"):
            ax.axvline(history["best_epoch"], color="grey", linestyle=":", linewidth=1,
                       label="best epoch (weights kept)")
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        name = metric.replace("_", " ").capitalize()
        unit = "cross-entropy, nats" if metric == "loss" else "fraction"
        ax.set_ylabel(f"{name} ({unit})")
        ax.set_title(name)
        ax.legend()
    fig.suptitle(title or "Learning curves")
    _close_if_new(fig, True)
    return fig


#: How :func:`accuracy_vs_takes` names the learners of :mod:`serwidgets.new_tasks`.
_LEARNER_NAMES = {"encoder": "frozen encoder + taught head", "egemaps": "eGeMAPS + logistic regression",
                  "stats": "stats functionals + logistic regression", "cnn": "log-mel CNN from scratch"}


def accuracy_vs_takes(curves, chance=None, titles=None, quick=None):
    """UA on held-out clips against takes per class, one panel per task, one line per learner.

    Parameters
    ----------
    curves : pandas.DataFrame
        Columns ``task, learner, takes, seed, ua`` (:func:`serwidgets.new_tasks.run`); lines are the
        mean over seeds, bands one standard deviation.
    chance : Mapping[str, float], optional
        Task -> chance UA, drawn as a dashed line.
    titles : Mapping[str, str], optional
        Task -> panel title, in the panels' order (default: the task's name, in the order of ``curves``).
    quick : pandas.DataFrame, optional
        A small re-run of some points (same columns), drawn as crosses over the lines.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> curves = pd.DataFrame({"task": "t", "learner": ["encoder"] * 4, "takes": [1, 1, 5, 5], "seed": [0, 1] * 2,
    ...                        "ua": [0.6, 0.7, 0.8, 0.9]})
    >>> fig = accuracy_vs_takes(curves, chance={"t": 0.5})
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:2]
    ['frozen encoder + taught head', 'chance']
    """
    import matplotlib.pyplot as plt

    present = set(curves["task"])
    tasks = [t for t in titles if t in present] if titles else list(dict.fromkeys(curves["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.8), sharey=True, squeeze=False,
                             layout="constrained")
    learners = [name for name in _LEARNER_NAMES if name in set(curves["learner"])]
    for ax, task in zip(axes[0], tasks):
        for i, learner in enumerate(learners):
            d = curves[(curves["task"] == task) & (curves["learner"] == learner)]
            if d.empty:
                continue
            g = d.groupby("takes")["ua"]
            mean, sd = g.mean(), g.std().fillna(0.0)
            colour = f"C{i}"
            ax.plot(mean.index, mean.values, marker="o", markersize=4, color=colour, label=_LEARNER_NAMES[learner])
            ax.fill_between(mean.index, mean - sd, mean + sd, color=colour, alpha=0.15, linewidth=0)
            if quick is not None:
                q = quick[(quick["task"] == task) & (quick["learner"] == learner)]
                ax.plot(q["takes"], q["ua"], "x", color=colour, markersize=8, label="_quick")
        if chance and task in chance:
            ax.axhline(chance[task], color="grey", linestyle="--", linewidth=1, label="chance")
        takes = sorted(set(curves.loc[curves["task"] == task, "takes"]))
        ax.set_xscale("log")
        ax.set_xticks(takes, [str(t) for t in takes])
        ax.minorticks_off()
        ax.set(xlabel="Takes per class", ylim=(0, 1.02), title=(titles or {}).get(task, task))
        ax.title.set_fontsize(10)
    axes[0][0].set_ylabel("UA on held-out clips (fraction)")
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle("A new task from a few takes" + (" (crosses: this run)" if quick is not None else ""))
    _close_if_new(fig, True)
    return fig


def metric_vs_snr(results, x="snr_db", y="UA", hue=None, title=None, ax=None):
    """Line plot of a metric against signal-to-noise ratio.

    Parameters
    ----------
    results : pandas.DataFrame or Mapping
        Long table with columns ``x`` (SNR in dB; ``inf`` = clean, drawn as a dotted line in the
        curve's colour), ``y`` (metric in [0, 1]) and optionally ``hue``; a mapping is passed to
        :class:`pandas.DataFrame` first.
    x, y : str
        Column names.
    hue : str, optional
        Column with one line per value, e.g. ``"noise"`` or ``"protocol"``.
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes

    Examples
    --------
    >>> fig = metric_vs_snr({"snr_db": [0, 10, 20], "UA": [0.3, 0.5, 0.6]})  # doctest: +SKIP
    """
    import pandas as pd
    import seaborn as sns

    data = pd.DataFrame(results).copy()
    data[y] = 100.0 * data[y].astype(float)
    clean = np.isinf(data[x].astype(float))
    groups = list(dict.fromkeys(data[hue])) if hue else [None]
    palette = dict(zip(groups, sns.color_palette(n_colors=len(groups))))
    created = ax is None
    fig, ax = _figure(ax, (6, 3.5))
    sns.lineplot(data=data[~clean], x=x, y=y, hue=hue, marker="o", ax=ax,
                 palette=palette if hue else None, color=None if hue else palette[None])
    if clean.any():
        # Clean speech has no finite SNR: a dotted line in its curve's colour instead of a point.
        for group in groups:
            rows = data[clean] if hue is None else data[clean & (data[hue] == group)]
            for value in rows[y]:
                ax.axhline(value, color=palette[group], linestyle=":", linewidth=1.2)
        ax.plot([], [], color="grey", linestyle=":", label="clean (no noise)")
        ax.legend()
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel(f"{y} (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"{y} against signal-to-noise ratio")
    _close_if_new(fig, created)
    return fig if created else ax


def calibration_curve(results, metric="UA", title=None, ax=None):
    """A metric against the number of calibration clips per test speaker, one line per draw
    (labelled draws apart from unlabelled ones).

    Parameters
    ----------
    results : sequence of serwidgets.results.Result
        Results of one model and protocol at several calibration sizes
        (:func:`serwidgets.evaluate.evaluate`, :func:`serwidgets.results.load_results`). A result
        without ``calibration``, or with ``clips`` 0, is the uncalibrated start of every line;
        ``clips`` ``"all"`` (every test clip calibrates: transductive) is drawn as a dashed
        horizontal line, an upper bound.
    metric : str
        A key of ``result.metrics`` (``"UA"``, ``"WA"``, ``"macro_F1"``) or ``"loco_mean_UA"``;
        values in [0, 1], drawn in percent.
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes

    Examples
    --------
    >>> from serwidgets import results
    >>> saved = {r.name: r for r in results.load_results()}
    >>> runs = [saved[f"emotion6-loco7-whisper{suffix}"] for suffix in ("", "-cal5", "-cal10", "-cal10-neutral")]
    >>> ax = calibration_curve(runs, metric="loco_mean_UA").axes[0]
    >>> [(line.get_label(), line.get_xdata().tolist()) for line in ax.lines]
    [('round-robin clips', [0, 5, 10]), ('neutral clips', [0, 10])]
    """
    start, upper, draws = [], [], {}
    for r in results:
        calibration = r.calibration or {"clips": 0}
        value = float(r.loco_mean_UA if metric == "loco_mean_UA" else r.metrics[metric])
        if calibration["clips"] == "all":
            upper.append(value)
        elif calibration["clips"] == 0:
            start.append(value)
        else:
            # Labelled clips are their own line (the same clips drawn, with their emotion as a label).
            kind = calibration["draw"] + (", labelled" if calibration.get("labelled") else "") + (
                f" ({calibration['label_noise']:.0%} random labels)" if calibration.get("label_noise") else "")
            draws.setdefault(kind, []).append((calibration["clips"], value))
    if not (start or upper or draws):
        raise ValueError("no results to draw")
    created = ax is None
    fig, ax = _figure(ax, (6, 3.5))
    markers = {"round-robin": "o", "neutral": "s", "random": "D"}
    # Every line starts at the uncalibrated result; with none calibrated, that point alone.
    for i, (draw, points) in enumerate(draws.items() or ([("round-robin", [])] if start else [])):
        points = sorted(([(0, np.mean(start))] if start else []) + points)
        x, y = zip(*points)
        ax.plot(x, 100.0 * np.asarray(y), marker=markers.get(draw.split(",")[0], "^"), color=f"C{i}",
                label=(f"{draw.split(',')[0]} clips" + draw[len(draw.split(',')[0]):]) if points[-1][0]
                else "no calibration")
        for xi, yi in points[1 if i and start else 0:]:  # the shared start is labelled once
            ax.annotate(f"{100 * yi:.1f}", (xi, 100 * yi), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=8, color=f"C{i}")
    for value in upper:
        ax.axhline(100.0 * value, color="grey", linestyle="--", linewidth=1.2,
                   label=f"all test clips (transductive upper bound) {100 * value:.1f} %")
    ticks = ({0} if start else set()) | {k for points in draws.values() for k, _ in points}
    if ticks:
        ax.set_xticks(sorted(ticks))
    ax.set_xlabel("Calibration clips per test speaker")
    name = {"loco_mean_UA": "Mean UA over held-out corpora", "macro_F1": "Macro-F1"}.get(metric, metric)
    ax.set_ylabel(f"{name} (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"{name} against calibration clips")
    ax.legend(loc="lower right", framealpha=1.0)
    _close_if_new(fig, created)
    return fig if created else ax


def _named(results) -> dict:
    """``{label: Result}`` from one Result, a sequence of them (labelled by name) or a mapping."""
    if hasattr(results, "predictions"):
        return {results.name: results}
    if isinstance(results, dict):
        return dict(results)
    return {r.name: r for r in results}


def reliability_diagram(results, bins=None, title=None, columns=4):
    """Reliability diagrams, one panel per test corpus: accuracy against confidence, one line per result.

    Each point is a bin of the top probability (10 equal-width bins): its mean confidence and the
    accuracy of its clips, its size the clips in it; the diagonal is perfect calibration. A line
    under the diagonal is over-confident. Each panel's legend gives each result's ECE there.

    Parameters
    ----------
    results : Result, sequence of Result or dict
        Results with saved predictions (:func:`serwidgets.results.load_results`), e.g. the same
        protocol without and with a confidence; a dict gives each line its label.
    bins : int, optional
        Default :data:`serwidgets.reliability.ECE_BINS`.
    title : str, optional
    columns : int
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from serwidgets import results
    >>> saved = {r.name: r for r in results.load_results()}
    >>> fig = reliability_diagram({"no calibration": saved["emotion6-loco7-whisper"]})
    >>> len(fig.axes), fig.axes[0].get_title()
    (7, 'ased')
    >>> fig.axes[1].get_legend().get_texts()[0].get_text()
    'no calibration (ECE 0.046)'
    """
    import matplotlib.pyplot as plt

    from serwidgets.results import confidence_by_corpus

    named = {label: confidence_by_corpus(r, bins) for label, r in _named(results).items()}
    corpora = sorted({c for by_corpus in named.values() for c in by_corpus})
    if not corpora:
        raise ValueError("no results to draw")
    rows = -(-len(corpora) // columns)
    fig, axes = plt.subplots(rows, min(columns, len(corpora)), figsize=(3.2 * min(columns, len(corpora)), 3.2 * rows),
                             layout="constrained", squeeze=False, sharex=True, sharey=True)
    for ax, corpus in zip(axes.flat, corpora):
        ax.plot([0, 100], [0, 100], color="grey", linestyle=":", linewidth=1)
        for i, (label, by_corpus) in enumerate(named.items()):
            if corpus not in by_corpus:
                continue
            table = by_corpus[corpus]["reliability"]
            x = [100 * b["confidence"] for b in table]
            y = [100 * b["accuracy"] for b in table]
            sizes = [8 + 120 * b["n"] / by_corpus[corpus]["n"] for b in table]
            ax.plot(x, y, color=f"C{i}", linewidth=1.2, label=f"{label} (ECE {by_corpus[corpus]['ECE']:.3f})")
            ax.scatter(x, y, s=sizes, color=f"C{i}", alpha=0.7)
        ax.set_title(corpus)
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.legend(loc="upper left", fontsize=7, framealpha=1.0)
    for ax in axes.flat[len(corpora):]:
        fig.delaxes(ax)
    fig.supxlabel("Confidence: top probability (%)")
    fig.supylabel("Accuracy in the bin (%)")
    fig.suptitle(title or "Reliability per held-out corpus (dotted: perfectly calibrated)")
    _close_if_new(fig, True)
    return fig


def risk_coverage(results, title=None, ax=None):
    """Accuracy among the most confident clips against their share (coverage), mean over test corpora.

    One line per result: at coverage ``c``, each corpus's accuracy among its ``c`` most confident
    clips, averaged over corpora (each weighs the same). Where the result has a confidence with a
    threshold, a marker shows where the threshold falls (mean coverage and accuracy of the clips
    shown as sure).

    Parameters
    ----------
    results : Result, sequence of Result or dict
        Results with saved predictions; a dict gives each line its label.
    title : str, optional
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes

    Examples
    --------
    >>> from serwidgets import results
    >>> saved = {r.name: r for r in results.load_results()}
    >>> ax = risk_coverage({"no calibration": saved["emotion6-loco7-whisper"]}).axes[0]
    >>> line = ax.lines[0]
    >>> line.get_label(), round(float(line.get_ydata()[-1]), 1)      # all clips: mean accuracy
    ('no calibration', 48.4)
    """
    from serwidgets.reliability import COVERAGES
    from serwidgets.results import confidence_by_corpus

    created = ax is None
    fig, ax = _figure(ax, (6, 3.5))
    for i, (label, result) in enumerate(_named(results).items()):
        by_corpus = confidence_by_corpus(result)
        curve = [100 * np.mean([v["risk_coverage"][c] for v in by_corpus.values()]) for c in COVERAGES]
        ax.plot([100 * c for c in COVERAGES], curve, marker="o", markersize=3, color=f"C{i}", label=label)
        sure = [v["sure"] for v in by_corpus.values() if v["sure"] and v["sure"]["coverage"] > 0]
        if sure:
            x, y = 100 * np.mean([s["coverage"] for s in sure]), 100 * np.mean([s["accuracy"] for s in sure])
            ax.scatter([x], [y], marker="*", s=160, color=f"C{i}", edgecolor="black", zorder=3,
                       label=f"shown as sure: {y:.0f} % right, {x:.0f} % of clips")
    ax.set_xlabel("Coverage: most confident clips kept (%)")
    ax.set_ylabel("Accuracy among them (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_title(title or "Risk–coverage, mean over held-out corpora")
    ax.legend(loc="lower left", fontsize=8, framealpha=1.0)
    _close_if_new(fig, created)
    return fig if created else ax
