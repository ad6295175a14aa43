"""Offline TTS engines (espeak-ng, festival, flite) with phone timings.

Each engine turns ``(text, voice, rate, pitch, expr)`` into int16/float audio at the
engine's native sample rate plus raw phone segments ``[(start_s, end_s, raw)]``.
``unify_alignment`` maps raw phones onto one ARPAbet-like inventory (``PHONES``).

* espeak-ng: the shared library via ctypes (synchronous mode, phoneme events in IPA);
  event sample positions give phone starts, the next event gives the end.
* festival: a generated Scheme script; ``utt.save.segs`` writes segment end times.
* flite: ``-psdur`` prints ``phone:end_time`` per utterance line (times restart per line).
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import shutil
import subprocess
import tempfile
import unicodedata
from typing import ClassVar

import numpy as np
import soundfile as sf

log = logging.getLogger("synthetic_speech")

# CMU/ARPAbet 39 phones (lowercase, no stress) + silence.
PHONES = [
    "sil",
    "aa",
    "ae",
    "ah",
    "ao",
    "aw",
    "ay",
    "b",
    "ch",
    "d",
    "dh",
    "eh",
    "er",
    "ey",
    "f",
    "g",
    "hh",
    "ih",
    "iy",
    "jh",
    "k",
    "l",
    "m",
    "n",
    "ng",
    "ow",
    "oy",
    "p",
    "r",
    "s",
    "sh",
    "t",
    "th",
    "uh",
    "uw",
    "v",
    "w",
    "y",
    "z",
    "zh",
]
_PHONE_SET = set(PHONES)

# Festival (radio/cmu) and flite extras that are not in the 39 set.
_ARPA_EXTRA = {
    "pau": ["sil"],
    "h#": ["sil"],
    "#": ["sil"],
    "brth": ["sil"],
    "sp": ["sil"],
    "ax": ["ah"],
    "axr": ["er"],
    "ix": ["ih"],
    "ux": ["uw"],
    "dx": ["d"],
    "nx": ["n"],
    "el": ["l"],
    "em": ["m"],
    "en": ["n"],
    "hv": ["hh"],
    "q": ["t"],
}

# espeak-ng English IPA -> ARPAbet; matched greedily, longest key first.
_IPA = {
    "aɪə": ["ay", "er"],
    "aɪɚ": ["ay", "er"],
    "aʊə": ["aw", "er"],
    "aʊɚ": ["aw", "er"],
    "ɪə": ["ih", "ah"],
    "eə": ["eh", "ah"],
    "ɛə": ["eh", "ah"],
    "ʊə": ["uh", "ah"],
    "ɪɚ": ["ih", "er"],
    "ɛɚ": ["eh", "er"],
    "ʊɚ": ["uh", "er"],
    "ɔɚ": ["ao", "er"],
    "ɑɚ": ["aa", "er"],
    "oɚ": ["ao", "er"],
    "ɜɹ": ["er"],
    "əɹ": ["er"],
    "eɪ": ["ey"],
    "aɪ": ["ay"],
    "ɑɪ": ["ay"],
    "ɔɪ": ["oy"],
    "oɪ": ["oy"],
    "aʊ": ["aw"],
    "ei": ["ey"],
    "əɪ": ["ay"],
    "æʊ": ["aw"],
    "əu": ["ow"],
    "ʌʉ": ["ow"],
    "aa": ["aa"],
    "aː": ["aa"],
    "oʊ": ["ow"],
    "əʊ": ["ow"],
    "ɔʊ": ["ow"],
    "ʌʊ": ["ow"],
    "tʃ": ["ch"],
    "dʒ": ["jh"],
    "ɑ": ["aa"],
    "ɒ": ["aa"],
    "æ": ["ae"],
    "a": ["ae"],
    "ʌ": ["ah"],
    "ɐ": ["ah"],
    "ə": ["ah"],
    "ɚ": ["er"],
    "ɜ": ["er"],
    "ɛ": ["eh"],
    "e": ["ey"],
    "ɪ": ["ih"],
    "ᵻ": ["ih"],
    "ɨ": ["ih"],
    "i": ["iy"],
    "ɔ": ["ao"],
    "o": ["ow"],
    "ʊ": ["uh"],
    "u": ["uw"],
    "ʉ": ["uw"],
    "ɵ": ["uh"],
    "y": ["uw"],
    "p": ["p"],
    "b": ["b"],
    "t": ["t"],
    "d": ["d"],
    "k": ["k"],
    "g": ["g"],
    "ɡ": ["g"],
    "f": ["f"],
    "v": ["v"],
    "θ": ["th"],
    "ð": ["dh"],
    "s": ["s"],
    "z": ["z"],
    "ʃ": ["sh"],
    "ʒ": ["zh"],
    "h": ["hh"],
    "x": ["hh"],
    "ç": ["hh"],
    "m": ["m"],
    "n": ["n"],
    "ŋ": ["ng"],
    "l": ["l"],
    "ɫ": ["l"],
    "ɬ": ["l"],
    "ɹ": ["r"],
    "r": ["r"],
    "ɾ": ["d"],
    "ʁ": ["r"],
    "ɻ": ["r"],
    "j": ["y"],
    "w": ["w"],
    "ʍ": ["w"],
    "ʔ": ["t"],
    "c": ["k"],
    "ʲ": ["y"],
}
_IPA_KEYS = sorted(_IPA, key=len, reverse=True)
_IPA_DROP = set("ˈˌːˑ‿-_|'\",;:.!?  ")


def map_ipa(raw: str) -> list[str] | None:
    """IPA string -> list of unified phones; [] = pause; None = nothing recognisable."""
    s = "".join(c for c in unicodedata.normalize("NFD", raw) if c not in _IPA_DROP and not unicodedata.combining(c))
    if not s:  # espeak pauses arrive as empty strings
        return ["sil"]
    out, i = [], 0
    while i < len(s):
        for k in _IPA_KEYS:
            if s.startswith(k, i):
                out.extend(_IPA[k])
                i += len(k)
                break
        else:  # unknown symbol: ignore it
            i += 1
    return out or None


def map_arpa(raw: str) -> list[str] | None:
    p = raw.strip().lower().rstrip("012")
    if p in _PHONE_SET:
        return [p]
    return _ARPA_EXTRA.get(p)


def unify_alignment(segs, mapper, duration: float) -> list[list]:
    """Raw segments -> contiguous [[start, end, phone]] covering [0, duration]."""
    out: list[list] = []
    for start, end, raw in segs:
        start, end = max(0.0, start), min(end, duration)
        if end <= start:
            continue
        phones = mapper(raw)
        if phones is None:  # unknown: extend the previous phone (or silence)
            phones = [out[-1][2]] if out else ["sil"]
        step = (end - start) / len(phones)
        for j, p in enumerate(phones):
            out.append([start + j * step, start + (j + 1) * step, p])
    # make contiguous, merge repeated silences, cover [0, duration]
    fixed: list[list] = []
    for s, e, p in out:
        if fixed:
            s = fixed[-1][1]
            if e <= s:
                continue
        elif s > 0.0:
            fixed.append([0.0, s, "sil"])
        if fixed and p == "sil" and fixed[-1][2] == "sil":
            fixed[-1][1] = e
        else:
            fixed.append([s, e, p])
    if not fixed:
        return [[0.0, round(duration, 4), "sil"]]
    if duration - fixed[-1][1] > 0.02:
        if fixed[-1][2] == "sil":
            fixed[-1][1] = duration
        else:
            fixed.append([fixed[-1][1], duration, "sil"])
    else:
        fixed[-1][1] = duration
    return [[round(s, 4), round(e, 4), p] for s, e, p in fixed if round(e, 4) > round(s, 4)]


class EngineError(RuntimeError):
    pass


# --------------------------------------------------------------------------- espeak-ng
class _EspeakId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _EspeakEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EspeakId),
    ]


_ESPEAK_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_EspeakEvent))
_EV_PHONEME, _AUDIO_SYNCHRONOUS, _INIT_PHONEME_EVENTS, _INIT_PHONEME_IPA = 7, 2, 0x1, 0x2
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4


class Espeak:
    name = "espeak"
    accents = ("en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
    variants = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
    _lib = None

    @staticmethod
    def available() -> str | None:
        for cand in ("libespeak-ng.so.1", "libespeak-ng.so"):
            try:
                ctypes.CDLL(cand)
                return None
            except OSError:
                continue
        return "libespeak-ng not found (apt-get install espeak-ng)"

    def voices(self) -> list[str]:
        return [a + (f"+{v}" if v else "") for a in self.accents for v in self.variants]

    def _init(self):
        if Espeak._lib is None:
            lib = None
            for cand in ("libespeak-ng.so.1", "libespeak-ng.so"):
                try:
                    lib = ctypes.CDLL(cand)
                    break
                except OSError:
                    continue
            if lib is None:
                raise EngineError(self.available())
            self_sr = lib.espeak_Initialize(
                _AUDIO_SYNCHRONOUS, 0, None, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | 0x8000
            )
            if self_sr <= 0:
                raise EngineError("espeak_Initialize failed")
            Espeak._sr, Espeak._buf = self_sr, {"wav": [], "ev": []}

            def callback(wav, n, events):
                if n > 0:
                    Espeak._buf["wav"].append(np.ctypeslib.as_array(wav, (n,)).copy())
                i = 0
                while events[i].type != 0:
                    ev = events[i]
                    if ev.type == _EV_PHONEME:
                        Espeak._buf["ev"].append((ev.sample, ev.id.string.decode("utf-8", "replace")))
                    i += 1
                return 0

            Espeak._cb = _ESPEAK_CB(callback)  # keep a reference
            lib.espeak_SetSynthCallback(Espeak._cb)
            Espeak._lib = lib
        return Espeak._lib

    def synth(self, text, voice, rate=1.0, pitch=0.0, expr=1.0):
        """Synthesise in a forked child: libespeak-ng keeps state between utterances (the
        same call gives slightly different audio the second time, and re-initialising hangs),
        so a fresh, once-initialised library per utterance is what makes output reproducible."""
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never returns
            os.close(rfd)
            try:
                res = self._synth_here(text, voice, rate, pitch, expr)[:3]
            except BaseException as exc:  # forwarded to the parent
                res = EngineError(f"espeak: {exc}")
            try:
                with os.fdopen(wfd, "wb") as f:
                    pickle.dump(res, f)
            finally:
                os._exit(0)
        os.close(wfd)
        with os.fdopen(rfd, "rb") as f:
            data = f.read()
        os.waitpid(pid, 0)
        res = pickle.loads(data) if data else EngineError("espeak child process died")
        if isinstance(res, BaseException):
            raise res
        return (*res, map_ipa)

    def _synth_here(self, text, voice, rate, pitch, expr):
        lib = self._init()
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise EngineError(f"espeak voice {voice!r} not available")
        lib.espeak_SetParameter(_RATE, round(175 * float(rate)), 0)
        lib.espeak_SetParameter(_PITCH, int(np.clip(50 + 8 * pitch, 0, 99)), 0)
        lib.espeak_SetParameter(_RANGE, int(np.clip(50 * expr, 0, 99)), 0)
        lib.espeak_SetParameter(_VOLUME, 100, 0)
        Espeak._buf = {"wav": [], "ev": []}
        data = text.encode("utf-8") + b"\0"
        if lib.espeak_Synth(data, len(data), 0, 1, 0, 1, None, None) != 0:
            raise EngineError("espeak_Synth failed")
        lib.espeak_Synchronize()
        wav = np.concatenate(Espeak._buf["wav"]) if Espeak._buf["wav"] else np.zeros(0, np.int16)
        sr, ev = Espeak._sr, Espeak._buf["ev"]
        wav = wav.astype(np.float32) / 32768.0
        return wav, sr, _espeak_segments(ev, wav, sr), map_ipa


ESPEAK_LEAD_S = 0.02  # espeak emits phone events ~20 ms after the phone's audio starts


def _espeak_segments(events, wav, sr):
    """Phoneme events (sample, ipa) -> segments. Two empirical fixes (measured on this corpus):
    non-pause phones start ESPEAK_LEAD_S earlier than their event, and pause events whose audio
    is not quiet (espeak's word-boundary "_" before vowels) are merged into the previous phone."""
    n, lead = len(wav), int(ESPEAK_LEAD_S * sr)
    starts, prev = [], 0
    for sample, ph in events:
        t = sample if not ph.strip() else max(prev, sample - lead)
        starts.append(min(max(t, prev), n))
        prev = starts[-1]
    active = wav[np.abs(wav) > 0.01 * (np.abs(wav).max() + 1e-9)]
    ref = float(np.mean(active**2)) if active.size else 0.0
    segs = []
    for k, (_, ph) in enumerate(events):
        a, b = starts[k], starts[k + 1] if k + 1 < len(events) else n
        if not ph.strip() and segs and b > a and np.mean(wav[a:b] ** 2) > 0.01 * ref:
            segs[-1] = (segs[-1][0], b / sr, segs[-1][2])  # a "pause" with speech in it
            continue
        segs.append((a / sr, b / sr, ph))
    return segs


# --------------------------------------------------------------------------- festival
class Festival:
    name = "festival"
    # voice -> (scheme voice function, kind, base F0)
    VOICES: ClassVar[dict[str, tuple[str, str, float]]] = {
        "kal": ("voice_kal_diphone", "diphone", 105.0),
        "ked": ("voice_ked_diphone", "diphone", 105.0),
        "slt_hts": ("voice_cmu_us_slt_arctic_hts", "hts", 0.0),
    }
    _checked: dict | None = None

    @staticmethod
    def available() -> str | None:
        if not shutil.which("festival"):
            return "festival binary not found (apt-get install festival)"
        if not Festival().voices():
            return "no festival voices installed (apt-get install festvox-kallpc16k ...)"
        return None

    def voices(self) -> list[str]:
        if Festival._checked is None:
            ok = {}
            for v, (fn, _, _) in self.VOICES.items():
                try:
                    r = subprocess.run(
                        ["festival", "--pipe"], input=f"(print ({fn}))\n", capture_output=True, text=True, timeout=60
                    )
                    good = r.returncode == 0 and "SIOD ERROR" not in (r.stdout + r.stderr)
                except (OSError, subprocess.TimeoutExpired):
                    good = False
                ok[v] = good
                if not good:
                    log.warning("festival voice %s unavailable; skipping it", v)
            Festival._checked = ok
        return [v for v, good in Festival._checked.items() if good]

    def synth(self, text, voice, rate=1.0, pitch=0.0, expr=1.0):
        fn, kind, f0 = self.VOICES[voice]
        esc = text.replace("\\", " ").replace('"', "'")
        with tempfile.TemporaryDirectory(prefix="fest") as td:
            wav_p, seg_p = os.path.join(td, "o.wav"), os.path.join(td, "o.segs")
            lines = [f"({fn})"]
            if kind == "hts":
                lines.append(
                    f"(set! hts_engine_params (append hts_engine_params "
                    f'(list (list "-r" {rate:.4f}) (list "-fm" {pitch:.4f}))))'
                )
            else:
                lines += [
                    f"(Parameter.set 'Duration_Stretch {1.0 / rate:.4f})",
                    f"(set! int_lr_params (append (list (list 'target_f0_mean "
                    f"{f0 * 2 ** (pitch / 12):.2f}) (list 'target_f0_std "
                    f"{14 * expr:.2f})) int_lr_params))",
                ]
            lines += [
                f'(set! u (Utterance Text "{esc}"))',
                "(utt.synth u)",
                f'(utt.save.wave u "{wav_p}" \'riff)',
                f'(utt.save.segs u "{seg_p}")',
            ]
            scm = os.path.join(td, "s.scm")
            with open(scm, "w") as f:
                f.write("\n".join(lines) + "\n")
            r = subprocess.run(["festival", "-b", scm], capture_output=True, text=True, timeout=300)
            if r.returncode != 0 or not os.path.exists(wav_p) or not os.path.exists(seg_p):
                raise EngineError(f"festival failed: {(r.stderr or r.stdout)[-300:]}")
            wav, sr = sf.read(wav_p, dtype="float32", always_2d=True)
            segs, prev = [], 0.0
            with open(seg_p) as f:
                body = f.read().split("#", 1)[-1]
            for line in body.splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    end = float(parts[0])
                    segs.append((prev, end, parts[2]))
                    prev = end
        return wav[:, 0], sr, segs, map_arpa


# --------------------------------------------------------------------------- flite
class Flite:
    name = "flite"
    BASE_F0: ClassVar[dict[str, float]] = {"kal16": 105.0, "awb": 110.0, "rms": 100.0, "slt": 170.0}

    @staticmethod
    def available() -> str | None:
        return None if shutil.which("flite") else "flite binary not found (apt-get install flite)"

    def voices(self) -> list[str]:
        r = subprocess.run(["flite", "-lv"], capture_output=True, text=True)
        have = set((r.stdout + r.stderr).split())
        missing = [v for v in self.BASE_F0 if v not in have]
        if missing:
            log.warning("flite voices %s unavailable; skipping them", missing)
        return [v for v in self.BASE_F0 if v in have]

    def synth(self, text, voice, rate=1.0, pitch=0.0, expr=1.0):
        with tempfile.TemporaryDirectory(prefix="flite") as td:
            wav_p = os.path.join(td, "o.wav")
            cmd = [
                "flite",
                "-voice",
                voice,
                "--setf",
                f"duration_stretch={1.0 / rate:.4f}",
                "--setf",
                f"int_f0_target_mean={self.BASE_F0[voice] * 2 ** (pitch / 12):.2f}",
                "--setf",
                f"int_f0_target_stddev={20 * expr:.2f}",
                "-psdur",
                "-t",
                text,
                "-o",
                wav_p,
            ]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
            if r.returncode != 0 or not os.path.exists(wav_p):
                raise EngineError(f"flite failed: {r.stderr[-300:]}")
            wav, sr = sf.read(wav_p, dtype="float32", always_2d=True)
        segs, offset = [], 0.0
        for line in r.stdout.splitlines():  # one line per utterance, times restart at 0
            prev = 0.0
            for tok in line.split():
                ph, _, t = tok.rpartition(":")
                try:
                    end = float(t)
                except ValueError:
                    continue
                segs.append((offset + prev, offset + end, ph))
                prev = end
            offset += prev
        return wav[:, 0], sr, segs, map_arpa


ENGINES = {"espeak": Espeak, "festival": Festival, "flite": Flite}


def warp_factor(timbre: int) -> float:
    """Per-speaker spectral warp for timbre k: 1.0, 0.94, 1.06, 0.88, 1.12, ...

    Audio at rate sr is relabelled as sr * warp before resampling, so pitch and formants
    scale by ``warp`` and durations by ``1 / warp``."""
    if timbre <= 0:
        return 1.0
    step = 0.06 * ((timbre + 1) // 2)
    return round(1.0 - step if timbre % 2 else 1.0 + step, 4)
