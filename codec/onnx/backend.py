"""`OnnxCodec`: the codec's tokenize/detokenize API on onnxruntime, from a directory written by
codec.onnx.export.export_onnx. Inputs and outputs are the torch model's (Tokens, audio tensors);
only the network runs in onnxruntime, with as many threads as torch is set to use. Causal models
stream through the step graphs (`with model.streaming(B):`, codec.onnx.streaming), in float32 also
on the int8 backend.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from codec.config import CodecConfig, from_dict
from codec.io.audio import AudioInput, prepare_batch
from codec.io.weights import sha256_file
from codec.models.token_contract import TokenContract
from codec.nn.masks import length_mask
from codec.onnx.files import FORMAT, FORMAT_VERSION, GRAPH_FILES, MANIFEST, require_onnx
from codec.onnx.streaming import OnnxStreamingSession
from codec.runtime.streaming import StreamForwarding
from codec.tokens import Tokens

if TYPE_CHECKING:
    from onnxruntime import InferenceSession


def read_manifest(directory: Path) -> dict:
    """The onnx.json of an export directory; ValueError naming the file if it is not one."""
    path = directory / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not an ONNX export directory (run `codec export MODEL --onnx DIR`)")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if manifest.get("format") != FORMAT or int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{path}: not a codec ONNX export of format {FORMAT} <= {FORMAT_VERSION}")
    return manifest


class OnnxCodec(TokenContract, StreamForwarding):
    """Tokenize/detokenize with onnxruntime; the same arguments and results as codec.Codec."""

    backend = "onnx"

    def __init__(self, directory: str | os.PathLike, int8: bool = False, verify: bool = True) -> None:
        require_onnx()
        self.directory = Path(directory)
        self.manifest = manifest = read_manifest(self.directory)
        self.cfg: CodecConfig = from_dict(CodecConfig, manifest["config"])
        self.model_id: str = manifest["model_id"]
        self.params = manifest.get("params", 0)
        self.int8, self.verify = int8, verify
        self.files = {graph: self.directory / GRAPH_FILES[(graph, int8)] for graph in ("encode", "decode")}
        for path in self.files.values():
            self._check_file(path)
        self._checked = {"encode", "decode"}
        if manifest.get("streaming"):  # checked when a stream starts
            self.files.update(
                {
                    graph: self.directory / manifest["streaming"][graph]["file"]
                    for graph in ("encode_step", "decode_step")
                }
            )
        self._sessions: dict[tuple[str, int], InferenceSession] = {}
        self.stream: OnnxStreamingSession | None = None  # the open `with model.streaming()` session
        if int8:
            self.backend = "onnx-int8"

    def _check_file(self, path: Path) -> None:
        """FileNotFoundError if a graph is missing, ValueError if (with `verify`) its sha256 is not the manifest's."""
        if not path.is_file():
            hint = " (export with --int8)" if self.int8 and ".int8." in path.name else ""
            raise FileNotFoundError(f"{path}: ONNX graph missing{hint}")
        expected = self.manifest["files"].get(path.name)
        if self.verify and expected and sha256_file(path) != expected:
            raise ValueError(f"{path}: sha256 does not match {MANIFEST}; re-export")

    @property
    def device(self) -> torch.device:
        """Where inputs and outputs live (onnxruntime runs on the CPU here)."""
        return torch.device("cpu")

    def parameter_count(self) -> int:
        """Parameters of the torch model that was exported (as the torch backend counts them)."""
        return int(self.params)

    def _session(self, graph: str) -> InferenceSession:
        """The onnxruntime session of `graph` for the current torch thread count (made once)."""
        import onnxruntime as ort

        threads = torch.get_num_threads()
        key = (graph, threads)
        if key not in self._sessions:
            if graph not in self._checked:
                self._check_file(self.files[graph])
                self._checked.add(graph)
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if threads == 1:  # no spinning worker threads to wake: lower per-call overhead
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._sessions[key] = ort.InferenceSession(
                str(self.files[graph]), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[key]

    # ---- API (as codec.Codec) ----------------------------------------------------------------
    def tokenize(
        self,
        audio: AudioInput | Sequence[AudioInput],
        sample_rate: int | None = None,
        lengths: torch.Tensor | Sequence[int] | None = None,
        num_codebooks: int | None = None,
    ) -> Tokens:
        """Audio (paths, tensors, arrays or lists of them; any rate, any channels) -> Tokens."""
        k = self.check_num_codebooks(num_codebooks)
        wav, wav_lengths = prepare_batch(audio, sample_rate, self.sample_rate, lengths)
        codes, frame_lengths = self._session("encode").run(
            None, {"audio": wav.contiguous().numpy(), "lengths": wav_lengths.numpy()}
        )
        return self.make_tokens(
            torch.from_numpy(codes)[:, :k].contiguous(), torch.from_numpy(frame_lengths), wav_lengths
        )

    def detokenize(self, tokens: Tokens | torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Tokens (or codes [B, k, F] with frame lengths) -> audio [B, 1, T], exact length per item, zero past it."""
        tokens = self.as_tokens(tokens, lengths)
        self.check_tokens(tokens)
        tokens = tokens.to("cpu")
        (audio,) = self._session("decode").run(
            None, {"codes": tokens.codes.contiguous().numpy(), "frame_lengths": tokens.lengths.numpy()}
        )
        audio = torch.from_numpy(audio)[..., : int(tokens.audio_lengths.max())]
        return audio * length_mask(tokens.audio_lengths, audio.shape[-1])[:, None, :].to(audio.dtype)

    # ---- long form (codec.runtime.longform; non-causal models) ---------------------------------------
    def tokenize_long(self, path: str | os.PathLike, **kwargs) -> Tokens:
        """Tokenize a long audio file window by window (codec.runtime.longform.tokenize_file_longform)."""
        from codec.runtime.longform import tokenize_file_longform

        self._check_not_causal()
        return tokenize_file_longform(self, path, **kwargs)  # type: ignore[arg-type]

    def detokenize_long(self, tokens: Tokens, path: str | os.PathLike, **kwargs) -> int:
        """Decode long Tokens straight to an audio file, window by window (codec.runtime.longform)."""
        from codec.runtime.longform import detokenize_longform

        self._check_not_causal()
        return detokenize_longform(self, tokens, path, **kwargs)  # type: ignore[arg-type]

    def _check_not_causal(self) -> None:
        # Causal long form streams windows of any frame count; the step graphs take whole steps only.
        if self.cfg.causal:
            raise ValueError(
                "long-form coding of causal models runs on the torch backend: "
                "load the model with backend='torch' (--backend torch)"
            )

    # ---- streaming (codec.onnx.streaming; causal models) --------------------------------------
    def streaming(self, batch_size: int = 1) -> OnnxStreamingSession:
        """`with model.streaming(B):` chunked encode_chunk/decode_chunk through the step graphs (causal models only)."""
        return OnnxStreamingSession(self, batch_size)
