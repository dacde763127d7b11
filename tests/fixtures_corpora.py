"""Synthetic corpus trees in a temporary folder, named like the real corpora.

The audio is a short quiet tone: loaders only read names (and label files), so the content
does not matter, but the files are real WAVs that ``soundfile.info`` can read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from serwidgets.audio import TARGET_SR

SR = TARGET_SR


def write_wav(path: Path, seconds: float = 0.1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(SR * seconds)) / SR
    sf.write(path, 0.1 * np.sin(2 * np.pi * 220 * t), SR)
    return path


def make_tree(root: Path, names: list[str]) -> Path:
    for name in names:
        write_wav(root / name)
    return root


CREMAD = [
    "AudioWAV/1001_DFA_ANG_XX.wav",
    "AudioWAV/1001_IEO_HAP_HI.wav",
    "AudioWAV/1002_DFA_SAD_LO.wav",
    "AudioWAV/1091_TIE_NEU_MD.wav",
]
CREMAD_MALFORMED = ["AudioWAV/1001_DFA_XYZ_XX.wav", "AudioWAV/take2.wav"]

TESS = [
    "OAF_angry/OAF_back_angry.wav",
    "OAF_Fear/OAF_bar_fear.wav",
    "YAF_pleasant_surprised/YAF_back_ps.wav",
    "YAF_neutral/YAF_germ_neutral.wav",
]
TESS_MALFORMED = ["OAF_angry/OAF_back.wav"]

SAVEE = [
    "ALL/DC_a01.wav",
    "ALL/JE_sa03.wav",
    "ALL/KL_su15.wav",
    "AudioData/JK/n30.wav",  # the original nested layout
]
SAVEE_MALFORMED = ["ALL/XX_a01.wav"]

EMODB_MALFORMED = ["wav/99a01Wa.wav", "wav/03a01Xa.wav"]  # unknown speaker, unknown emotion letter


def make_iemocap(root: Path) -> Path:
    """Two sessions: improvised and scripted dialogues, oth/xxx labels, one missing WAV."""
    sessions = {
        1: ("Ses01F_impro01", [
            ("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M000", "ang"),
            ("Ses01F_impro01_M001", "xxx"), ("Ses01F_impro01_F001", "exc"),
            ("Ses01F_impro01_F002", "oth"),
        ]),
        2: ("Ses02M_script01_1", [
            ("Ses02M_script01_1_M000", "hap"), ("Ses02M_script01_1_F000", "sad"),
            ("Ses02M_script01_1_F001", "fru"),
        ]),
    }
    for n, (dialog, utterances) in sessions.items():
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        for i, (utterance, label) in enumerate(utterances):
            lines += [
                f"[{i * 3 + 0.5:.4f} - {i * 3 + 2.25:.4f}]\t{utterance}\t{label}\t[2.5000, 3.0000, 3.5000]",
                f"C-E1:\tNeutral state;\t()",
                "",
            ]
            if utterance != "Ses02M_script01_1_F001":  # its WAV is missing: must be reported
                write_wav(root / f"Session{n}" / "sentences" / "wav" / dialog / f"{utterance}.wav")
        label_file = root / f"Session{n}" / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        label_file.parent.mkdir(parents=True, exist_ok=True)
        label_file.write_text("\n".join(lines))
    return root
