"""The full models: the encoder-decoder Transformer (Vaswani et al., 2017) and a decoder-only GPT.

Transformer: src ids -> embeddings (x sqrt(C)) + positions -> N encoder layers -> final norm = memory;
             tgt ids -> embeddings + positions -> N decoder layers (causal self-attention,
             cross-attention on memory) -> final norm -> linear -> logits over the target vocabulary.
GPT:         ids -> token + learned position embeddings -> N causal blocks -> final norm -> logits
             (Radford et al., 2019), the output layer tied to the token embedding by default.
             `GPTConfig.attention` swaps the blocks' self-attention for a sliding window or linear
             attention (tinyformer.cheap_attention); the KV cache works with all three.
             `GPTConfig.gpt2(size)` is GPT-2's shape; `tinyformer.pretrained.load_gpt2` loads its weights.

Both stacks end with a LayerNorm in both pre-norm and post-norm mode, as `nn.Transformer` does.
Generation: `model.new_cache(B)` makes a `KVCache`; pass it with only the new tokens, whose
positions continue from `cache.length`. Attention maps for plots: `return_attention=True`.

Shapes: B batch, T target time, S source time, C d_model, V vocab.
Left out: mixture of experts, rotary positions, flash-decoding tricks, mixed precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .attention import KVCache, MultiHeadAttention
from .cheap_attention import ATTENTION_KINDS, build_attention
from .dropout import Dropout
from .embeddings import LearnedPositionalEmbedding, SinusoidalPositionalEncoding, TokenEmbedding
from .layers import ACTIVATIONS, DecoderLayer, EncoderLayer, FeedForward, LayerNorm, _layer_norm_fn, can_step
from .masks import padding_mask

__all__ = ["TransformerConfig", "Transformer", "GPTConfig", "GPT", "GPT2_SIZES", "count_parameters"]


@dataclass
class TransformerConfig:
    """Sizes of the encoder-decoder; the defaults are the course's small translation model."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 128
    n_heads: int = 4
    n_encoder_layers: int = 3
    n_decoder_layers: int = 3
    d_ff: int = 512
    dropout: float = 0.1
    max_len: int = 256  # positional table size: the longest source or target
    activation: str = "relu"  # or "gelu"
    norm_first: bool = True  # pre-norm; False = post-norm as in the 2017 paper / nn.Transformer default
    positional: str = "sinusoidal"  # or "learned"
    tie_embeddings: bool = False  # share the target embedding and the output projection
    pad_id: int = 0


# GPT-2's four published sizes (Radford et al., 2019, table 2): (n_layers, n_heads, d_model).
# All share vocab 50257, a 1024-token context, d_ff = 4 d_model, tanh-GELU, LayerNorm eps 1e-5,
# biases everywhere but the output layer, and the output layer tied to the token embedding.
GPT2_SIZES = {"small": (12, 12, 768), "medium": (24, 16, 1024), "large": (36, 20, 1280), "xl": (48, 25, 1600)}


@dataclass
class GPTConfig:
    """Sizes of the decoder-only model. `GPTConfig.gpt2("small")` gives GPT-2's shape."""

    vocab_size: int
    block_size: int = 128  # the longest context (positional table size)
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 4
    d_ff: int = 512
    dropout: float = 0.0
    activation: str = "gelu"  # or "gelu_tanh" (GPT-2's approximation), "relu"
    tie_embeddings: bool = True
    # Self-attention of every block: "full" (causal MultiHeadAttention), "window" (SlidingWindowAttention,
    # each query sees the `attention_window` most recent positions) or "linear" (LinearAttention);
    # see tinyformer.cheap_attention. A checkpoint saved before these fields existed is "full", None.
    attention: str = "full"
    attention_window: int | None = None  # required for "window", None otherwise

    @classmethod
    def gpt2(cls, size: str = "small", dropout: float = 0.0) -> "GPTConfig":
        """GPT-2 small (124M), medium (355M), large (774M) or xl (1.5B), the shape of the published weights.

        Our GPT already has what GPT-2 needs: learned positions, pre-norm blocks, a final LayerNorm
        (eps 1e-5 in both), biases, a tied output layer; only the tanh-GELU is named here.
        `dropout` is 0 for inference; GPT-2 trained with 0.1. Load the weights with
        `tinyformer.pretrained.load_gpt2`.
        """
        if size not in GPT2_SIZES:
            raise ValueError(f"size={size!r} is not a GPT-2 size; choose one of {', '.join(GPT2_SIZES)}")
        n_layers, n_heads, d_model = GPT2_SIZES[size]
        return cls(vocab_size=50257, block_size=1024, d_model=d_model, n_heads=n_heads, n_layers=n_layers,
                   d_ff=4 * d_model, dropout=dropout, activation="gelu_tanh", tie_embeddings=True)


def _validate_config(config, ints: tuple[str, ...]) -> None:
    for name in ints:
        value = getattr(config, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive int")
    if config.d_model % config.n_heads != 0:
        raise ValueError(f"d_model={config.d_model} is not divisible by n_heads={config.n_heads}; choose n_heads that divides d_model")
    if isinstance(config.dropout, bool) or not isinstance(config.dropout, (int, float)) or not 0.0 <= config.dropout < 1.0:
        raise ValueError(f"dropout={config.dropout!r} must be a number in [0, 1)")
    if config.activation not in ACTIVATIONS:
        raise ValueError(f"activation={config.activation!r} is not supported; choose one of {sorted(ACTIVATIONS)}")


def _validate_attention(config: "GPTConfig") -> None:
    """attention is one of ATTENTION_KINDS; attention_window a positive int for "window", None otherwise."""
    kind, window = config.attention, config.attention_window
    if kind not in ATTENTION_KINDS:
        raise ValueError(f"attention={kind!r} is not supported; choose one of {', '.join(ATTENTION_KINDS)}")
    if kind == "window":
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f'attention_window={window!r}: attention="window" needs a positive int '
                             "(the positions each query sees, itself included)")
    elif window is not None:
        raise ValueError(f'attention_window={window!r} is only used with attention="window" '
                         f"(attention={kind!r}); leave it None")


def _check_ids(name: str, ids: object, max_len: int, start: int = 0) -> None:
    """Cheap checks on a batch of token ids (B, T): type, rank and length against the positional table."""
    if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor of token ids (B, T), got {getattr(ids, 'dtype', type(ids).__name__)}")
    if ids.dim() != 2:
        raise ValueError(f"{name} must have shape (B, T), got {tuple(ids.shape)}")
    if ids.numel() == 0:
        raise ValueError(f"{name} must hold at least one token in at least one row, got shape {tuple(ids.shape)}")
    if start + ids.shape[1] > max_len:
        where = f" after {start} cached positions" if start else ""
        raise ValueError(f"{name} has length {ids.shape[1]}{where}, longer than the positional table "
                         f"max_len={max_len}; shorten the input or build the model with a larger max_len")


def _check_src_mask(src_mask: object, B: int, S: int) -> None:
    """A source mask hides source positions from every query: boolean (B or 1, 1, 1, S), as padding_mask makes."""
    if src_mask is None:
        return
    if not isinstance(src_mask, torch.Tensor) or src_mask.dtype != torch.bool:
        raise TypeError(f"src_mask must be a boolean tensor (True = a real source token), got "
                        f"{getattr(src_mask, 'dtype', type(src_mask).__name__)}")
    shape = tuple(src_mask.shape)
    if src_mask.dim() != 4 or shape[0] not in (1, B) or shape[1:] != (1, 1, S):
        raise ValueError(f"src_mask must have shape (B={B} or 1, 1, 1, S={S}), got {shape}; make it with "
                         f"tinyformer.masks.padding_mask(src, pad_id)")


def _check_memory(memory: object, d_model: int, src_mask: object) -> None:
    """The encoder's output (B, S, d_model), and a source mask that fits it."""
    if not isinstance(memory, torch.Tensor) or memory.dim() != 3 or memory.shape[-1] != d_model:
        raise ValueError(f"memory must have shape (B, S, d_model={d_model}), got {tuple(getattr(memory, 'shape', ()))}")
    _check_src_mask(src_mask, memory.shape[0], memory.shape[1])


def _check_step_args(tokens: object, cache: object) -> None:
    """A cached step's arguments: one token id per row (B,) and a KVCache made for B rows."""
    if not isinstance(cache, KVCache):
        raise TypeError(f"cache must be a KVCache (model.new_cache(batch_size)), got {type(cache).__name__}")
    if not isinstance(tokens, torch.Tensor) or tokens.dim() != 1:
        raise ValueError(f"tokens must be a 1-D tensor of token ids (B,), one per row, got "
                         f"{tuple(getattr(tokens, 'shape', ())) or type(tokens).__name__}")
    if tokens.shape[0] != cache.batch_size:
        raise ValueError(f"tokens holds {tokens.shape[0]} rows, the cache was made for batch_size={cache.batch_size}")


class Transformer(nn.Module):
    """The encoder-decoder of "Attention Is All You Need": forward(src (B, S), tgt (B, T)) -> logits (B, T, V)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        _validate_config(config, ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "n_encoder_layers",
                                  "n_decoder_layers", "d_ff", "max_len"))
        if config.positional not in ("sinusoidal", "learned"):
            raise ValueError(f"positional={config.positional!r} must be 'sinusoidal' or 'learned'")
        c = self.config = config
        self.src_embed = TokenEmbedding(c.src_vocab_size, c.d_model, scale=True)  # x sqrt(C), section 3.4
        self.tgt_embed = TokenEmbedding(c.tgt_vocab_size, c.d_model, scale=True)
        if c.positional == "sinusoidal":
            self.src_pos = self.tgt_pos = SinusoidalPositionalEncoding(c.max_len, c.d_model)  # one fixed table
        else:
            self.src_pos = LearnedPositionalEmbedding(c.max_len, c.d_model)
            self.tgt_pos = LearnedPositionalEmbedding(c.max_len, c.d_model)
        self.dropout = Dropout(c.dropout)
        layer_args = (c.d_model, c.n_heads, c.d_ff, c.dropout, c.activation, c.norm_first)
        self.encoder_layers = nn.ModuleList(EncoderLayer(*layer_args) for _ in range(c.n_encoder_layers))
        self.encoder_norm = LayerNorm(c.d_model)
        self.decoder_layers = nn.ModuleList(DecoderLayer(*layer_args) for _ in range(c.n_decoder_layers))
        self.decoder_norm = LayerNorm(c.d_model)
        self.generator = nn.Linear(c.d_model, c.tgt_vocab_size)  # C -> V: the output layer
        # Xavier-uniform on every matrix of the layers, as nn.Transformer and the Annotated Transformer do
        for p in [*self.encoder_layers.parameters(), *self.decoder_layers.parameters()]:
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        if c.tie_embeddings:
            self.generator.weight = self.tgt_embed.weight  # one (V, C) matrix for input and output

    def source_mask(self, src: torch.Tensor) -> torch.Tensor | None:
        """padding_mask(src, pad_id) (B, 1, 1, S), or None when src holds no padding (nothing to hide)."""
        mask = padding_mask(src, self.config.pad_id)  # (B, 1, 1, S)
        return None if bool(mask.all()) else mask

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None, return_attention: bool = False):
        """src (B, S) -> memory (B, S, C); with return_attention also a list of (B, H, S, S) per layer.

        `src_mask` defaults to `self.source_mask(src)`: the padding mask, None without padding;
        given, it must be boolean (B or 1, 1, 1, S) (TypeError / ValueError naming src_mask).
        """
        _check_ids("src", src, self.config.max_len)
        _check_src_mask(src_mask, src.shape[0], src.shape[1])
        if src_mask is None:
            src_mask = self.source_mask(src)
        S = src.shape[1]
        x = self.dropout(self.src_embed(src) + self.src_pos(S))  # (B, S, C)
        for layer in self.encoder_layers:
            x = layer(x, mask=src_mask, need_weights=return_attention)  # (B, S, C)
        memory = self.encoder_norm(x)
        if return_attention:
            return memory, [layer.last_attention for layer in self.encoder_layers]
        return memory

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None = None,
               cache: KVCache | None = None, return_attention: bool = False):
        """tgt (B, T) and memory (B, S, C) -> logits (B, T, V).

        `src_mask`: the same (B, 1, 1, S) mask given to `encode` (None attends to every memory
        position, padding included). With `cache`, `tgt` holds only the new tokens. With
        return_attention also {"self": [(B, H, T, T)], "cross": [(B, H, T, S)]}, one per layer.
        """
        start = 0 if cache is None else cache.length
        _check_ids("tgt", tgt, self.config.max_len, start)
        _check_memory(memory, self.config.d_model, src_mask)
        if memory.shape[0] != tgt.shape[0]:
            raise ValueError(f"tgt and memory must have the same batch size: tgt has {tgt.shape[0]}, memory has {memory.shape[0]}")
        T = tgt.shape[1]
        x = self.dropout(self.tgt_embed(tgt) + self.tgt_pos(T, offset=start))  # (B, T, C)
        for i, layer in enumerate(self.decoder_layers):
            x = layer(x, memory, memory_mask=src_mask, cache=None if cache is None else cache.layers[i],
                      need_weights=return_attention)  # (B, T, C)
        logits = self.generator(self.decoder_norm(x))  # (B, T, V)
        if return_attention:
            return logits, {"self": [layer.last_self_attention for layer in self.decoder_layers],
                            "cross": [layer.last_cross_attention for layer in self.decoder_layers]}
        return logits

    def stepper(self, memory: torch.Tensor, src_mask: torch.Tensor | None = None) -> Callable[[torch.Tensor, KVCache], torch.Tensor]:
        """The decoder's cached step over `memory` (B, S, C), as a function step(tokens (B,), cache) ->
        next-token logits (B, V): `decode(tokens[:, None], memory, src_mask, cache)[:, -1]`, the same
        numbers, without every layer's checks and module calls (see `GPT.stepper`). `memory` and
        `src_mask` are checked here, once; the step checks `tokens` and `cache`. When `layers.can_step`
        says no for the decoder's parts (training mode, a forward hook...), the step runs `decode`.
        """
        _check_memory(memory, self.config.d_model, src_mask)
        c = self.config
        steppable = type(self) is Transformer and can_step(  # the decoder's parts (not a subclass's decode)
            self.tgt_embed, self.tgt_pos, self.dropout, self.decoder_norm, self.generator, *self.decoder_layers,
            own=(TokenEmbedding, LearnedPositionalEmbedding, SinusoidalPositionalEncoding))
        layers = [layer.stepper() for layer in self.decoder_layers] if steppable else None
        embed, positions, head, head_bias = self.tgt_embed, self.tgt_pos, self.generator.weight, self.generator.bias
        norm = _layer_norm_fn(self.decoder_norm)

        def step(tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
            _check_step_args(tokens, cache)
            if tokens.shape[0] != memory.shape[0]:
                raise ValueError(f"tokens holds {tokens.shape[0]} rows, memory {memory.shape[0]}")
            if layers is None:
                return self.decode(tokens[:, None], memory, src_mask, cache=cache)[:, -1]
            _check_ids("tokens", tokens[:, None], c.max_len, cache.length)
            x = (embed(tokens) + positions(1, offset=cache.length)).unsqueeze(1)  # (B, 1, C); embed checks the ids
            for layer, layer_cache in zip(layers, cache.layers):
                x = layer(x, memory, src_mask, layer_cache)  # (B, 1, C)
            return F.linear(norm(x.squeeze(1)), head, head_bias)  # (B, V)

        return step

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        """src (B, S), tgt (B, T) -> logits (B, T, V): logits[:, t] predicts the token after tgt[:, t]."""
        _check_ids("src", src, self.config.max_len)
        _check_ids("tgt", tgt, self.config.max_len)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError(f"src and tgt must have the same batch size: src has {src.shape[0]}, tgt has {tgt.shape[0]}")
        _check_src_mask(src_mask, src.shape[0], src.shape[1])
        if src_mask is None:
            src_mask = self.source_mask(src)
        memory = self.encode(src, src_mask)
        return self.decode(tgt, memory, src_mask)

    def new_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty cache for generating up to max_len (default config.max_len) target tokens."""
        c = self.config
        p = self.generator.weight
        return KVCache(c.n_decoder_layers, batch_size, c.n_heads, c.d_model // c.n_heads, max_len or c.max_len,
                       cross_attention=True, dtype=p.dtype, device=p.device)


class GPT(nn.Module):
    """A decoder-only language model: forward(idx (B, T), cache=None) -> logits (B, T, V)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        _validate_config(config, ("vocab_size", "block_size", "d_model", "n_heads", "n_layers", "d_ff"))
        _validate_attention(config)
        c = self.config = config
        self.tok_embed = TokenEmbedding(c.vocab_size, c.d_model)
        self.pos_embed = LearnedPositionalEmbedding(c.block_size, c.d_model)
        self.dropout = Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            EncoderLayer(c.d_model, c.n_heads, c.d_ff, c.dropout, c.activation, norm_first=True) for _ in range(c.n_layers)
        )
        if c.attention != "full":  # same parameters and names, another way to attend; swapped before the init
            with torch.random.fork_rng(devices=[]):  # the swap draws no numbers: same seed, same weights as "full"
                for block in self.blocks:
                    block.self_attn = build_attention(c.attention, c.d_model, c.n_heads, dropout=c.dropout,
                                                      window=c.attention_window)
        self.norm = LayerNorm(c.d_model)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)  # C -> V
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: shrink the projections that add into the residual stream
            if name.endswith("out_proj.weight") or name.endswith("linear2.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layers))
        if c.tie_embeddings:
            self.lm_head.weight = self.tok_embed.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2's initialisation: N(0, 0.02) matrices and embeddings, zero biases."""
        if isinstance(module, (nn.Linear, TokenEmbedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, MultiHeadAttention):
            nn.init.normal_(module.in_proj_weight, mean=0.0, std=0.02)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None, return_attention: bool = False):
        """idx (B, T) -> logits (B, T, V); with `cache`, idx holds only the tokens not fed yet."""
        if cache is not None and not isinstance(cache, KVCache):  # e.g. targets passed where nanoGPT takes them
            raise TypeError(f"cache must be a KVCache or None, got {type(cache).__name__}; GPT(idx) returns logits, "
                            "compute the loss with F.cross_entropy")
        if not isinstance(return_attention, bool):
            raise TypeError(f"return_attention must be True or False, got {return_attention!r}")
        start = 0 if cache is None else cache.length
        _check_ids("idx", idx, self.config.block_size, start)
        T = idx.shape[1]
        x = self.dropout(self.tok_embed(idx) + self.pos_embed(T, offset=start))  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, cache=None if cache is None else cache.layers[i],
                      need_weights=return_attention)  # (B, T, C)
        logits = self.lm_head(self.norm(x))  # (B, T, V)
        if return_attention:
            return logits, [block.last_attention for block in self.blocks]
        return logits

    def stepper(self) -> Callable[[torch.Tensor, KVCache], torch.Tensor]:
        """The cached decoding step, as a function step(tokens (B,), cache) -> next-token logits (B, V).

        `tokens`, one per row, get position `cache.length` and are stored in `cache`. The same numbers
        as `forward(tokens[:, None], cache)[:, -1]` (tests check they are equal), minus what one token
        per row does not need: every layer's checks and module calls, attention's path for T queries.
        The weights and the model's state are read once, here; `generate` makes one stepper per
        call, so it sees the hooks registered before the call (ablations, steering). With a forward
        hook anywhere in the model, in training mode, with windowed or linear attention, a readable
        (`fast=False`) layer or a module that is not ours (`layers.can_step`), the step runs
        `forward`. The step raises TypeError/ValueError naming `tokens` or `cache` for a wrong type,
        shape or id.
        """
        c = self.config
        steppable = can_step(self, own=(GPT, TokenEmbedding, LearnedPositionalEmbedding))  # not a subclass
        blocks = [block.stepper() for block in self.blocks] if steppable else None
        embed, pos_table, head, norm = self.tok_embed, self.pos_embed.weight, self.lm_head.weight, _layer_norm_fn(self.norm)

        def step(tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
            _check_step_args(tokens, cache)
            if blocks is None:
                return self(tokens[:, None], cache=cache)[:, -1]
            _check_ids("tokens", tokens[:, None], c.block_size, cache.length)
            x = (embed(tokens) + pos_table[cache.length]).unsqueeze(1)  # (B, 1, C); embed checks the ids
            for block, layer_cache in zip(blocks, cache.layers):
                x = block(x, layer_cache)  # (B, 1, C)
            return F.linear(norm(x.squeeze(1)), head)  # (B, V)

        return step

    def new_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty cache for up to max_len (default block_size) positions, prompt included."""
        c = self.config
        p = self.lm_head.weight
        return KVCache(c.n_layers, batch_size, c.n_heads, c.d_model // c.n_heads, max_len or c.block_size,
                       dtype=p.dtype, device=p.device)


_CATEGORIES = (
    ("embeddings", (TokenEmbedding, LearnedPositionalEmbedding, nn.Embedding)),
    ("attention", (MultiHeadAttention, nn.MultiheadAttention)),
    ("ffn", (FeedForward,)),
    ("norms", (LayerNorm, nn.LayerNorm)),
)


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable parameters by kind: embeddings / attention / ffn / norms / output, and the total.

    A tied weight is counted once, under embeddings. "output" is any nn.Linear that is a direct
    child of the model (the layer giving logits). Works on `nn.Transformer` too (its layers'
    linear1/linear2 count as ffn). Anything else goes to "other", listed only when non-zero.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    counts = {"embeddings": 0, "attention": 0, "ffn": 0, "norms": 0, "output": 0}
    seen: set[int] = set()

    def add(kind: str, params) -> None:
        for p in params:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                counts[kind] += p.numel()

    for kind, types in _CATEGORIES:
        for module in model.modules():
            if isinstance(module, types):
                add(kind, module.parameters())
    for module in model.modules():  # PyTorch's own layers keep their FFN as two loose Linears
        if isinstance(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)):
            add("ffn", [*module.linear1.parameters(), *module.linear2.parameters()])
    for child in model.children():
        if isinstance(child, nn.Linear):
            add("output", child.parameters())
    other = sum(p.numel() for p in model.parameters() if p.requires_grad and id(p) not in seen)
    if other:
        counts["other"] = other
    counts["total"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return counts
