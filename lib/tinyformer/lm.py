"""The recipe for notebook 08's small GPT: real English (the CPython docs), course BPE, a few CPU minutes.

Data: `tinyformer.corpus.python_docs_split` (the text behind `help("if")` and friends, split by
topic so the held-out text is unseen), tokenized with a `BPETokenizer` trained on the training
part only. Batches are random windows of the token stream, a deterministic function of the step,
so `tinyformer.train.train` can resume exactly. Held-out loss is the mean next-token cross-entropy
over non-overlapping windows of the held-out topics; perplexity = exp(loss).
The model and tokenizer are saved under data/generated/ (a checkpoint + the tokenizer's JSON).
Left out: dropout (the run is far too short to overfit), mixed precision, data loaders.
Shapes: B batch, T time, V vocab.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from tinyformer.checkpoint import load_checkpoint, save_checkpoint
from tinyformer.corpus import python_docs_split
from tinyformer.model import GPT, GPTConfig
from tinyformer.tokenizer import BPETokenizer
from tinyformer.train import TrainConfig, TrainResult, train

__all__ = [
    "LMRecipe",
    "LMData",
    "build_data",
    "make_get_batch",
    "lm_loss",
    "evaluate_lm",
    "train_gpt",
    "save_gpt",
    "load_gpt",
    "load_or_train_gpt",
    "DEFAULT_CHECKPOINT",
]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "data" / "generated" / "gpt_pydocs.pt"


@dataclass
class LMRecipe:
    """Everything that decides the trained model; the defaults train in a couple of CPU minutes."""

    vocab_size: int = 1024  # BPE vocabulary: bytes + merges
    steps: int = 1000  # optimizer steps; raise it for better text
    batch_size: int = 8
    seq_len: int = 128  # training window (the model's block_size can be longer)
    lr: float = 3e-3
    warmup_steps: int = 30
    seed: int = 0
    model: GPTConfig = field(default_factory=lambda: GPTConfig(vocab_size=1024, block_size=512))

    def __post_init__(self) -> None:
        if self.model.vocab_size != self.vocab_size:
            raise ValueError(f"model.vocab_size={self.model.vocab_size} must equal vocab_size={self.vocab_size}")
        if self.seq_len > self.model.block_size:
            raise ValueError(f"seq_len={self.seq_len} is longer than the model's block_size={self.model.block_size}")


@dataclass
class LMData:
    tokenizer: BPETokenizer
    train_ids: torch.Tensor  # (N_train,) long
    held_out_ids: torch.Tensor  # (N_held_out,) long


def build_data(vocab_size: int = 1024) -> LMData:
    """Train the BPE on the training topics and encode both parts into flat token streams."""
    train_text, held_out_text = python_docs_split()
    tokenizer = BPETokenizer.train(train_text, vocab_size)
    as_tensor = lambda text: torch.tensor(tokenizer.encode(text), dtype=torch.long)  # noqa: E731
    return LMData(tokenizer, as_tensor(train_text), as_tensor(held_out_text))


def make_get_batch(ids: torch.Tensor, batch_size: int, seq_len: int, seed: int = 0):
    """get_batch(step) -> (x, y), each (B, T): random windows of `ids`, y shifted one to the left; same step, same batch."""
    if ids.numel() <= seq_len + 1:
        raise ValueError(f"ids has {ids.numel()} tokens, too few for windows of seq_len={seq_len}")
    offsets = torch.arange(seq_len + 1)  # (T + 1,)

    def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        starts = torch.randint(0, ids.numel() - seq_len - 1, (batch_size, 1), generator=g)  # (B, 1)
        chunk = ids[starts + offsets]  # (B, T + 1)
        return chunk[:, :-1], chunk[:, 1:]

    return get_batch


def lm_loss(model: GPT, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) of a batch (x, y)."""
    x, y = batch
    logits = model(x)  # (B, T, V)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten())


@torch.no_grad()
def evaluate_lm(model: GPT, ids: torch.Tensor, seq_len: int = 128, batch_size: int = 32) -> dict[str, float]:
    """Held-out loss (nats per token) and perplexity over non-overlapping windows of `ids`."""
    n = (ids.numel() - 1) // seq_len
    if n == 0:
        raise ValueError(f"ids has {ids.numel()} tokens, too few for one window of seq_len={seq_len}")
    x = ids[: n * seq_len].view(n, seq_len)  # (N, T)
    y = ids[1 : n * seq_len + 1].view(n, seq_len)
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, n, batch_size):
        logits = model(x[i : i + batch_size])  # (B, T, V)
        total += F.cross_entropy(logits.flatten(0, 1), y[i : i + batch_size].flatten(), reduction="sum").item()
    model.train(was_training)
    loss = total / (n * seq_len)
    return {"loss": loss, "perplexity": math.exp(loss)}


def train_gpt(
    data: LMData, recipe: LMRecipe | None = None, progress: bool = True, eval_every: int = 0
) -> tuple[GPT, TrainResult]:
    """A fresh GPT (seeded) trained with `tinyformer.train.train`; evals hold the held-out loss."""
    recipe = recipe or LMRecipe()
    torch.manual_seed(recipe.seed)
    model = GPT(recipe.model)
    config = TrainConfig(
        max_steps=recipe.steps, lr=recipe.lr, warmup_steps=recipe.warmup_steps, schedule="cosine",
        weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8, grad_clip=1.0, eval_every=eval_every, progress=progress,
    )
    get_batch = make_get_batch(data.train_ids, recipe.batch_size, recipe.seq_len, recipe.seed)
    result = train(model, get_batch, lm_loss, config,
                   eval_fn=lambda m: evaluate_lm(m, data.held_out_ids, recipe.seq_len), model_config=recipe.model)
    model.eval()
    return model, result


def _tokenizer_path(path: Path) -> Path:
    return path.with_name(path.stem + ".tokenizer.json")


def save_gpt(path: str | Path, model: GPT, tokenizer: BPETokenizer, recipe: LMRecipe, metrics: dict | None = None) -> Path:
    """Save the weights (atomic checkpoint with config and recipe) and the tokenizer JSON next to it."""
    path = Path(path)
    save_checkpoint(path, model, step=recipe.steps, model_config=recipe.model,
                    extra={"recipe": _recipe_dict(recipe), "metrics": dict(metrics or {})})
    tokenizer.save(_tokenizer_path(path))
    return path


def _recipe_dict(recipe: LMRecipe) -> dict:
    d = asdict(recipe)
    d["model"] = asdict(recipe.model)
    return d


def load_gpt(path: str | Path = DEFAULT_CHECKPOINT) -> tuple[GPT, BPETokenizer, dict]:
    """(model in eval mode, tokenizer, extra) from `save_gpt`'s files; extra has "recipe" and "metrics"."""
    path = Path(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**state["model_config"]))
    load_checkpoint(path, model)
    tokenizer = BPETokenizer.load(_tokenizer_path(path))
    return model.eval(), tokenizer, state["extra"]


def load_or_train_gpt(
    path: str | Path = DEFAULT_CHECKPOINT, recipe: LMRecipe | None = None, progress: bool = True
) -> tuple[GPT, BPETokenizer, dict]:
    """Load the checkpoint if it was made with this recipe; otherwise train (and save) it."""
    recipe = recipe or LMRecipe()
    path = Path(path)
    if path.is_file() and _tokenizer_path(path).is_file():
        model, tokenizer, extra = load_gpt(path)
        if extra.get("recipe") == _recipe_dict(recipe):
            return model, tokenizer, extra
    data = build_data(recipe.vocab_size)
    model, result = train_gpt(data, recipe, progress=progress)
    metrics = result.evals[-1] if result.evals else evaluate_lm(model, data.held_out_ids, recipe.seq_len)
    save_gpt(path, model, data.tokenizer, recipe, metrics)
    return model, data.tokenizer, {"recipe": _recipe_dict(recipe), "metrics": metrics}
