"""GPT-2's published weights in our `GPT`: the model built in this course is the model OpenAI trained.

`load_gpt2(directory)` reads GPT-2 in the Hugging Face layout (`config.json` + `model.safetensors`)
into `tinyformer.model.GPT`; `download_gpt2(size)` fetches those two files, resumably, and checks
their SHA-256. Nothing here needs the network except `download_gpt2`.

The only work is renaming (per block i; C d_model, V vocab, F = 4C the FFN width):

    Hugging Face (GPT-2)        shape      ours                               shape
    wte.weight                  (V, C)     tok_embed.weight (lm_head tied)    (V, C)
    wpe.weight                  (1024, C)  pos_embed.weight                   (1024, C)
    h.i.ln_1.weight / .bias     (C,)       blocks.i.norm1.weight / .bias      (C,)
    h.i.attn.c_attn.weight      (C, 3C)    blocks.i.self_attn.in_proj_weight  (3C, C)  transposed
    h.i.attn.c_attn.bias        (3C,)      blocks.i.self_attn.in_proj_bias    (3C,)
    h.i.attn.c_proj.weight      (C, C)     blocks.i.self_attn.out_proj.weight (C, C)   transposed
    h.i.ln_2.weight / .bias     (C,)       blocks.i.norm2.weight / .bias      (C,)
    h.i.mlp.c_fc.weight         (C, F)     blocks.i.ffn.linear1.weight        (F, C)   transposed
    h.i.mlp.c_proj.weight       (F, C)     blocks.i.ffn.linear2.weight        (C, F)   transposed
    ln_f.weight / .bias         (C,)       norm.weight / .bias                (C,)
    (each .bias of a transposed weight maps to the matching .bias unchanged)

Why transposed: GPT-2's code used a "Conv1D" layer that stores W as (in, out) and computes x W + b;
`nn.Linear` stores (out, in) and computes x Wᵀ + b. `c_attn`'s 3C outputs are q, k, v side by
side, heads consecutive within each: exactly the row order of our `in_proj_weight` (W_Q, W_K, W_V).
The rest is already GPT-2's: learned positions, pre-norm blocks, a final LayerNorm with eps 1e-5,
biases, a tied output layer, 1/√D attention. The tanh approximation of GELU is
`GPTConfig(activation="gelu_tanh")`.

Left out: the TensorFlow checkpoints OpenAI first published, sharded `.safetensors` files, other
model families (`model_type` must be "gpt2"), and `pytorch_model.bin` (pickles: not loaded here).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Mapping

import torch
from tqdm.auto import tqdm

from .data import sha256_of
from .model import GPT, GPT2_SIZES, GPTConfig
from .utils import generated_dir

__all__ = ["load_gpt2", "download_gpt2", "gpt2_name_map", "GPT2_REPOS", "GPT2_PINNED"]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
HF_ENDPOINT = "https://huggingface.co"
GPT2_REPOS = {size: "openai-community/gpt2" + ("" if size == "small" else f"-{size}") for size in GPT2_SIZES}

# Pinned files: the repository revision (a git commit, so the files cannot change under us) and each
# file's SHA-256. gpt2 (small) at revision 607a30d7: model.safetensors is 548,105,171 bytes and its
# SHA-256 is the Git LFS object id Hugging Face shows on the file's page; config.json is 665 bytes.
# Both digests were taken from several independent public records of this revision (this
# repository's machines cannot reach huggingface.co), not computed here. The other sizes have
# no pin yet: pass `sha256={...}` from their files' pages (see download_gpt2).
GPT2_PINNED: dict[str, dict[str, Any]] = {
    "small": {
        "revision": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
        "sha256": {
            CONFIG_FILE: "0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4",
            WEIGHTS_FILE: "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707",
        },
    },
}

# GPT-2's activation names in config.json -> ours. "gelu_new" is the tanh approximation GPT-2 used.
_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu"}
# Older checkpoints (the published gpt2 file among them) also store each layer's causal mask as a
# buffer, h.i.attn.bias (1, 1, 1024, 1024), and h.i.attn.masked_bias: not weights; our attention
# builds its mask itself.
_MASK_BUFFER = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")
_OUR_EPS = 1e-5  # the eps of every LayerNorm in our GPT


# ----------------------------------------------------------------------------- the config


def _read_json(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a JSON file ({e})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(config).__name__}")
    return config


def _int_key(config: dict, path: Path, *keys: str) -> int:
    """config[key] for the first of `keys` present, checked to be a positive int."""
    for key in keys:
        if key in config:
            value = config[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{path}: {key}={value!r} must be a positive int")
            return value
    raise ValueError(f"{path} has no key {' or '.join(repr(k) for k in keys)}; is it a GPT-2 config.json?")


def _gpt2_config(path: Path, dropout: float) -> tuple[GPTConfig, bool]:
    """(our GPTConfig, whether the output layer is tied) from a Hugging Face GPT-2 config.json."""
    config = _read_json(path)
    if config.get("model_type") != "gpt2":
        raise ValueError(f"{path}: model_type={config.get('model_type')!r}, expected 'gpt2'; "
                         "load_gpt2 reads GPT-2 checkpoints only")
    n_layers = _int_key(config, path, "n_layer")
    n_heads = _int_key(config, path, "n_head")
    d_model = _int_key(config, path, "n_embd")
    vocab_size = _int_key(config, path, "vocab_size")
    block_size = _int_key(config, path, "n_positions", "n_ctx")
    d_ff = 4 * d_model if config.get("n_inner") is None else _int_key(config, path, "n_inner")
    activation = config.get("activation_function", "gelu_new")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{path}: activation_function={activation!r} is not supported; "
                         f"choose one of {', '.join(_ACTIVATIONS)}")
    eps = config.get("layer_norm_epsilon", _OUR_EPS)
    if eps != _OUR_EPS:
        raise ValueError(f"{path}: layer_norm_epsilon={eps!r}, but our GPT's LayerNorms use {_OUR_EPS} (as GPT-2 does)")
    for key, needed in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                        ("add_cross_attention", False)):
        if config.get(key, needed) != needed:
            raise ValueError(f"{path}: {key}={config[key]!r} is not GPT-2's attention; our GPT needs {key}={needed}")
    tied = config.get("tie_word_embeddings", True)
    if not isinstance(tied, bool):
        raise ValueError(f"{path}: tie_word_embeddings={tied!r} must be true or false")
    ours = GPTConfig(vocab_size=vocab_size, block_size=block_size, d_model=d_model, n_heads=n_heads,
                     n_layers=n_layers, d_ff=d_ff, dropout=dropout, activation=_ACTIVATIONS[activation],
                     tie_embeddings=tied)
    return ours, tied


# ----------------------------------------------------------------------------- the weights


def gpt2_name_map(config: GPTConfig) -> dict[str, tuple[str, bool]]:
    """{GPT-2 tensor name: (our parameter name, transposed?)} for a GPT of this config (table above).

    Names are without the "transformer." prefix that `GPT2LMHeadModel.save_pretrained` adds.
    lm_head.weight appears only for an untied config.
    """
    names = {"wte.weight": ("tok_embed.weight", False), "wpe.weight": ("pos_embed.weight", False),
             "ln_f.weight": ("norm.weight", False), "ln_f.bias": ("norm.bias", False)}
    per_block = {"ln_1": ("norm1", False), "attn.c_attn": ("self_attn.in_proj", True),
                 "attn.c_proj": ("self_attn.out_proj", True), "ln_2": ("norm2", False),
                 "mlp.c_fc": ("ffn.linear1", True), "mlp.c_proj": ("ffn.linear2", True)}
    for i in range(config.n_layers):
        for theirs, (ours, transposed) in per_block.items():
            weight = f"blocks.{i}.{ours}_weight" if ours.endswith("in_proj") else f"blocks.{i}.{ours}.weight"
            bias = f"blocks.{i}.{ours}_bias" if ours.endswith("in_proj") else f"blocks.{i}.{ours}.bias"
            names[f"h.{i}.{theirs}.weight"] = (weight, transposed)
            names[f"h.{i}.{theirs}.bias"] = (bias, False)
    if not config.tie_embeddings:
        names["lm_head.weight"] = ("lm_head.weight", False)
    return names


def _plain_name(name: str) -> str:
    return name[len("transformer."):] if name.startswith("transformer.") else name


def _shorten(names: list[str], n: int = 5) -> str:
    shown = ", ".join(sorted(names)[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")


def load_gpt2(directory: str | os.PathLike, dropout: float = 0.0) -> tuple[GPT, GPTConfig]:
    """(model in eval mode, its config) from GPT-2 in the Hugging Face layout in `directory`.

    `directory` holds `config.json` and `model.safetensors`, as `download_gpt2` or
    `GPT2LMHeadModel.save_pretrained(directory)` write them (any of GPT-2's four sizes, or a
    GPT-2-shaped model of any size). Tensor names may carry the "transformer." prefix or not;
    the causal-mask buffers older files store (h.i.attn.bias) are skipped. Weights stored in
    float16/bfloat16 are loaded as float32. `dropout` is for fine-tuning; GPT-2 trained with 0.1.

    Raises ValueError naming the file (and the key) for: a missing directory or file, a config that
    is not GPT-2's (model_type, an unsupported activation_function, layer_norm_epsilon other than
    1e-5), missing or unexpected tensor names, a tensor of the wrong shape or not floating point,
    or an untied lm_head.weight in a file whose config ties it. Nothing is loaded before all checks pass.
    """
    try:
        from safetensors import SafetensorError, safe_open
    except ImportError:  # pragma: no cover - safetensors is in requirements.txt
        raise ImportError("load_gpt2 needs the safetensors package: pip install safetensors") from None
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"directory={str(directory)!r} is not a directory; expected one holding "
                         f"{CONFIG_FILE} and {WEIGHTS_FILE} (download_gpt2 makes one)")
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (directory / name).is_file():
            raise ValueError(f"{directory / name} is missing; load_gpt2 reads GPT-2 in the Hugging Face layout "
                             f"({CONFIG_FILE} + {WEIGHTS_FILE}); download_gpt2(size, directory) fetches both")
    config, tied = _gpt2_config(directory / CONFIG_FILE, dropout)
    path = directory / WEIGHTS_FILE
    expected = gpt2_name_map(config)
    try:
        model = GPT(config)
    except ValueError as e:
        raise ValueError(f"{directory / CONFIG_FILE}: {e}") from None
    params = dict(model.named_parameters(remove_duplicate=False))
    try:
        with safe_open(str(path), framework="pt") as f:
            stored = {_plain_name(k): k for k in f.keys()}
            _check_names(path, stored, expected, tied)
            for name, (ours, transposed) in expected.items():
                _check_tensor(path, stored[name], f.get_slice(stored[name]), params[ours].shape, transposed)
            with torch.no_grad():
                for name, (ours, transposed) in expected.items():
                    tensor = f.get_tensor(stored[name])
                    params[ours].copy_(tensor.t() if transposed else tensor)
                if tied and "lm_head.weight" in stored and not torch.equal(f.get_tensor(stored["lm_head.weight"]).to(
                        params["tok_embed.weight"].dtype), params["tok_embed.weight"]):
                    raise ValueError(f"{path}: {stored['lm_head.weight']} differs from {stored['wte.weight']}, but "
                                     f"{CONFIG_FILE} ties them (tie_word_embeddings); set it to false to load both")
    except SafetensorError as e:
        raise ValueError(f"{path} is not a readable safetensors file ({e})") from None
    return model.eval(), config


def _check_names(path: Path, stored: Mapping[str, str], expected: Mapping[str, Any], tied: bool) -> None:
    missing = [name for name in expected if name not in stored]
    if missing:
        raise ValueError(f"{path} lacks {len(missing)} tensor(s) a GPT-2 of this {CONFIG_FILE} needs: {_shorten(missing)}")
    extra = [stored[name] for name in stored
             if name not in expected and not _MASK_BUFFER.fullmatch(name) and not (tied and name == "lm_head.weight")]
    if extra:
        raise ValueError(f"{path} holds {len(extra)} unexpected tensor(s) for a GPT-2 of this {CONFIG_FILE}: "
                         f"{_shorten(extra)}")


_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}


def _check_tensor(path: Path, key: str, view: Any, our_shape: torch.Size, transposed: bool) -> None:
    shape = tuple(view.get_shape())
    want = tuple(reversed(our_shape)) if transposed else tuple(our_shape)
    if shape != want:
        raise ValueError(f"{path}: {key} has shape {shape}, expected {want} for this {CONFIG_FILE}")
    if view.get_dtype() not in _FLOAT_DTYPES:
        raise ValueError(f"{path}: {key} has dtype {view.get_dtype()}, expected a floating-point type")


# ----------------------------------------------------------------------------- the download

_PINNED = object()  # the default of download_gpt2's sha256: the digests in GPT2_PINNED


def download_gpt2(size: str = "small", directory: str | os.PathLike | None = None, *, sha256: Any = _PINNED,
                  revision: str | None = None, endpoint: str = HF_ENDPOINT, progress: bool = True) -> Path:
    """Fetch GPT-2's config.json and model.safetensors from Hugging Face into `directory`; return it.

    - `size`: "small" (548 MB), "medium", "large" or "xl" (6.4 GB); repositories in GPT2_REPOS.
    - `directory`: default `generated_dir() / f"gpt2-{size}"` (data/generated/, git-ignored).
    - `sha256`: by default each file's digest is checked against GPT2_PINNED, which pins "small"
      only (at a fixed revision). For another size pass the digests yourself,
      `sha256={"config.json": "...", "model.safetensors": "..."}` (the model file's digest is the
      "SHA256" Hugging Face shows on its page), or `sha256=None` to download without checking:
      each file's digest is then printed, for you to compare. Without either, ValueError.
    - `revision`: a commit or branch of the repository; default the pinned one, else "main".
    - Resumable: a file streams into `<name>.part` next to its destination; if the download is
      interrupted, the next call asks the server for the rest only (an HTTP Range request) and
      hashes what is already there. A file goes in place (atomic rename) only once complete and
      verified; a wrong digest removes the partial file and raises ValueError naming both digests.
      A file already in place with the right digest is not fetched again.
    - `endpoint`: the server (a mirror; the tests use a local one).
    """
    if size not in GPT2_REPOS:
        raise ValueError(f"size={size!r} is not a GPT-2 size; choose one of {', '.join(GPT2_REPOS)}")
    pinned = GPT2_PINNED.get(size)
    if sha256 is _PINNED:
        if pinned is None:
            raise ValueError(f"sha256: no digests are pinned for GPT-2 {size}; pass sha256={{'config.json': ..., "
                             f"'model.safetensors': ...}} from https://huggingface.co/{GPT2_REPOS[size]}, or "
                             "sha256=None to download without checking (the digests are printed)")
        sha256 = pinned["sha256"]
        revision = revision or pinned["revision"]
    elif sha256 is not None:
        if not isinstance(sha256, Mapping) or set(sha256) != {CONFIG_FILE, WEIGHTS_FILE}:
            raise ValueError(f"sha256 must map exactly {CONFIG_FILE!r} and {WEIGHTS_FILE!r} to digests, or be None; "
                             f"got {sha256!r}")
        for digest in sha256.values():
            _check_digest(digest)
    revision = revision or "main"
    if not isinstance(revision, str) or not re.fullmatch(r"[\w.\-]+", revision):
        raise ValueError(f"revision={revision!r} must be a commit hash or a branch name")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"endpoint={endpoint!r} must start with http:// or https://")
    directory = Path(directory) if directory is not None else generated_dir() / f"gpt2-{size}"
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        url = f"{endpoint.rstrip('/')}/{GPT2_REPOS[size]}/resolve/{revision}/{name}"
        expected = None if sha256 is None else sha256[name]
        download_resumable(url, directory / name, expected, progress=progress)
    return directory


def _check_digest(digest: object) -> None:
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise ValueError(f"sha256={digest!r} must be 64 hexadecimal characters")


def download_resumable(url: str, dest: str | os.PathLike, sha256: str | None, progress: bool = True) -> Path:
    """Fetch `url` to `dest`, resuming a partial `dest.part` with an HTTP Range request; return dest.

    The shape of `tinyformer.data.download` (stream to a file next to `dest`, verify, rename) plus
    resuming. `sha256=None` skips the check and prints the digest instead (an explicit choice).
    A server that ignores Range (answers 200 with the whole file) is read from the start.
    """
    if sha256 is not None:
        _check_digest(sha256)
        sha256 = sha256.lower()
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"url={url!r} must start with http:// or https://")
    dest = Path(dest)
    if dest.is_file() and (sha256 is None or sha256_of(dest) == sha256):
        if sha256 is None:
            print(f"{dest}: already there, SHA-256 {sha256_of(dest)} (not verified)")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    resumed = part.is_file() and part.stat().st_size > 0
    actual = _fetch_to_part(url, part, dest.name, progress)
    if sha256 is not None and actual != sha256 and resumed:  # maybe a stale .part of another file: once afresh
        part.unlink()
        actual = _fetch_to_part(url, part, dest.name, progress)
    if sha256 is not None and actual != sha256:
        part.unlink()
        raise ValueError(f"{url}: SHA-256 mismatch, expected {sha256}, got {actual}; file not saved")
    os.replace(part, dest)
    if sha256 is None:
        print(f"{dest}: SHA-256 {actual} (not verified: sha256=None)")
    return dest


def _fetch_to_part(url: str, part: Path, name: str, progress: bool) -> str:
    """Append the rest of `url` to `part` (all of it when there is no part yet); return the whole file's SHA-256.

    On an interruption (a network error, Ctrl-C) the bytes received so far stay in `part`.
    """
    have = part.stat().st_size if part.is_file() else 0
    digest = hashlib.sha256()
    if have:
        with open(part, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing after `have`: the part is already the whole file
            return digest.hexdigest()
        if not have and part.is_file():
            part.unlink()
        raise
    with response:
        if have and response.status != 206:  # the server sent the whole file: start over
            have, digest = 0, hashlib.sha256()
        elif have and not (response.headers.get("Content-Range") or "").startswith(f"bytes {have}-"):
            raise ValueError(f"{url}: asked for bytes {have}- but the server sent "
                             f"Content-Range {response.headers.get('Content-Range')!r}; delete {part} to start over")
        length = int(response.headers.get("Content-Length") or 0)
        received = 0
        with open(part, "ab" if have else "wb") as out, \
                tqdm(total=have + length or None, initial=have, unit="B", unit_scale=True, desc=name,
                     disable=not progress) as bar:
            while chunk := response.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if length and received < length:  # http.client ends a cut transfer quietly, as if the file were complete
        raise ConnectionError(f"{url}: the connection closed after {have + received:,} of {have + length:,} bytes; "
                              f"call again to resume from {part}")
    return digest.hexdigest()
