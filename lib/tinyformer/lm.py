"""The recipe for notebook 08's small GPT: real English (the CPython docs), course BPE, a few CPU minutes.

Data: `tinyformer.corpus.python_docs_split` (the text behind `help("if")` and friends, split by
topic so the held-out text is unseen), tokenized with a `BPETokenizer` trained on the training
part only. Batches are random windows of the token stream, a deterministic function of the step,
so `tinyformer.train.train` can resume exactly; every window that fits is drawn, up to the one
ending on the last token. Held-out loss is the mean next-token cross-entropy over non-overlapping
windows of the held-out topics; perplexity = exp(loss).
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

from tinyformer.checkpoint import read_checkpoint, restore_checkpoint, save_checkpoint
from tinyformer.corpus import python_docs_split
from tinyformer.data import encode_text
from tinyformer.model import GPT, GPTConfig
from tinyformer.tokenizer import BPETokenizer
from tinyformer.train import TrainConfig, TrainResult, check_resume, train
from tinyformer.utils import generated_dir

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

DEFAULT_CHECKPOINT = generated_dir() / "gpt_pydocs.pt"


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
    data_version: int = 2  # raised when the data or the batches drawn change, so saved models retrain

    def __post_init__(self) -> None:
        for name in ("vocab_size", "steps", "batch_size", "seq_len", "warmup_steps", "seed"):
            _check_int(name, getattr(self, name), 0 if name in ("steps", "warmup_steps", "seed") else 1)
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"lr={self.lr!r} must be a number > 0")
        if not isinstance(self.model, GPTConfig):
            raise TypeError(f"model must be a GPTConfig, got {type(self.model).__name__}")
        if self.model.vocab_size != self.vocab_size:
            raise ValueError(f"model.vocab_size={self.model.vocab_size} must equal vocab_size={self.vocab_size}")
        if self.seq_len > self.model.block_size:
            raise ValueError(f"seq_len={self.seq_len} is longer than the model's block_size={self.model.block_size}")


def _check_int(name: str, value: object, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an int >= {minimum}")


def _check_ids(ids: object) -> None:
    """ids must be a 1-d integer tensor: the token stream."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"ids must be a 1-d tensor of token ids, got {type(ids).__name__}")
    if ids.dim() != 1 or ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"ids must be a 1-d integer tensor (N,), got shape {tuple(ids.shape)} and dtype {ids.dtype}")


@dataclass
class LMData:
    tokenizer: BPETokenizer
    train_ids: torch.Tensor  # (N_train,) long
    held_out_ids: torch.Tensor  # (N_held_out,) long


def build_data(vocab_size: int = 1024) -> LMData:
    """Train the BPE on the training topics and encode both parts into flat token streams."""
    train_text, held_out_text = python_docs_split()
    _check_int("vocab_size", vocab_size, 257)
    tokenizer = BPETokenizer.train(train_text, vocab_size)
    as_tensor = lambda text: torch.tensor(encode_text(tokenizer, text), dtype=torch.long)  # noqa: E731
    return LMData(tokenizer, as_tensor(train_text), as_tensor(held_out_text))


def make_get_batch(ids: torch.Tensor, batch_size: int, seq_len: int, seed: int = 0):
    """get_batch(step) -> (x, y), each (B, T): random windows of `ids`, y shifted one to the left; same step, same batch.

    A window is seq_len + 1 tokens, so its start runs from 0 to N - seq_len - 1 (inclusive): the last
    window's target ends on the last token. Raises TypeError/ValueError for ids that are not a 1-d
    integer tensor, sizes that are not positive ints, or fewer than seq_len + 1 tokens.
    """
    _check_ids(ids)
    _check_int("batch_size", batch_size)
    _check_int("seq_len", seq_len)
    _check_int("seed", seed, 0)
    if ids.numel() < seq_len + 1:
        raise ValueError(f"ids has {ids.numel()} tokens, too few for one window of seq_len={seq_len} "
                         f"(a window needs seq_len + 1 = {seq_len + 1})")
    offsets = torch.arange(seq_len + 1)  # (T + 1,)
    n_starts = ids.numel() - seq_len  # starts 0 .. N - seq_len - 1

    def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        starts = torch.randint(0, n_starts, (batch_size, 1), generator=g)  # (B, 1)
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
    """Held-out loss (nats per token) and perplexity over non-overlapping windows of `ids`.

    Window i predicts ids[i*T + 1 : (i+1)*T + 1] from ids[i*T : (i+1)*T]; all (N - 1) // T windows that
    fit are scored. Raises TypeError/ValueError for bad ids or sizes, or fewer than seq_len + 1 tokens.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a GPT, got {type(model).__name__}")
    _check_ids(ids)
    _check_int("seq_len", seq_len)
    _check_int("batch_size", batch_size)
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
    data: LMData, recipe: LMRecipe | None = None, progress: bool = True, eval_every: int = 0, *,
    checkpoint_path: str | Path | None = None, checkpoint_every: int = 0, resume: bool = False,
) -> tuple[GPT, TrainResult]:
    """A fresh GPT (seeded) trained with `tinyformer.train.train`; evals hold the held-out loss.

    With `checkpoint_path` the run state is saved every `checkpoint_every` steps and at the end;
    `resume=True` continues from it exactly. A resume applies a larger `recipe.steps` and refuses
    any other changed setting (lr, warmup_steps, batch_size, seq_len, seed, vocab_size, the model),
    naming each with both values (`tinyformer.train.check_resume`).
    """
    if not isinstance(data, LMData):
        raise TypeError(f"data must be an LMData (from build_data), got {type(data).__name__}")
    recipe = recipe or LMRecipe()
    if not isinstance(recipe, LMRecipe):
        raise TypeError(f"recipe must be an LMRecipe, got {type(recipe).__name__}")
    config = TrainConfig(
        max_steps=recipe.steps, lr=recipe.lr, warmup_steps=recipe.warmup_steps, schedule="cosine",
        weight_decay=0.1, betas=(0.9, 0.95), eps=1e-8, grad_clip=1.0, eval_every=eval_every, progress=progress,
        checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
    )
    run_config = {name: getattr(recipe, name) for name in ("vocab_size", "batch_size", "seq_len", "seed", "data_version")}
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():  # refuse before any work
        check_resume(checkpoint_path, config, model_config=recipe.model, run_config=run_config)
    torch.manual_seed(recipe.seed)
    model = GPT(recipe.model)
    get_batch = make_get_batch(data.train_ids, recipe.batch_size, recipe.seq_len, recipe.seed)
    result = train(model, get_batch, lm_loss, config, eval_fn=lambda m: evaluate_lm(m, data.held_out_ids, recipe.seq_len),
                   model_config=recipe.model, run_config=run_config, resume=resume)
    model.eval()
    return model, result


def _tokenizer_path(path: Path) -> Path:
    return path.with_name(path.stem + ".tokenizer.json")


def save_gpt(path: str | Path, model: GPT, tokenizer: BPETokenizer, recipe: LMRecipe, metrics: dict | None = None,
             result: TrainResult | None = None) -> Path:
    """Save the weights (atomic checkpoint with config and recipe) and the tokenizer JSON next to it.

    With `result` (from `train_gpt`) the training history is kept too: losses, evaluations, seconds.
    """
    path = Path(path)
    history = {"losses": result.losses, "evals": result.evals} if result is not None else {}
    save_checkpoint(path, model, step=result.step if result is not None else recipe.steps, model_config=recipe.model,
                    extra={"recipe": _recipe_dict(recipe), "metrics": dict(metrics or {}),
                           "seconds": result.seconds if result is not None else 0.0}, **history)
    tokenizer.save(_tokenizer_path(path))
    return path


def _recipe_dict(recipe: LMRecipe) -> dict:
    d = asdict(recipe)
    d["model"] = asdict(recipe.model)
    return d


def load_gpt(path: str | Path = DEFAULT_CHECKPOINT) -> tuple[GPT, BPETokenizer, dict]:
    """(model in eval mode, tokenizer, extra) from `save_gpt`'s files.

    extra has "recipe", "metrics" and "result": the `TrainResult` of the run (step, losses, evals and
    seconds; empty lists for a checkpoint saved without its history).

    Raises FileNotFoundError if the checkpoint or its tokenizer JSON is missing, ValueError naming the
    path if the file is not a tinyformer checkpoint, or is one but not a GPT saved by `save_gpt`.
    """
    state = read_checkpoint(path)
    path = Path(path)
    recipe = state.get("extra", {}).get("recipe")
    if not (isinstance(recipe, dict) and "seq_len" in recipe and isinstance(state.get("model_config"), dict)):
        raise ValueError(f"{path} is a tinyformer checkpoint but not a GPT saved by save_gpt (no GPT recipe in it)")
    try:
        model = GPT(GPTConfig(**state["model_config"]))
    except TypeError as e:
        raise ValueError(f"{path} holds a model config GPTConfig does not take ({e})") from None
    restore_checkpoint(state, model)
    if not _tokenizer_path(path).is_file():
        raise FileNotFoundError(f"{path} has no tokenizer next to it; expected {_tokenizer_path(path)} "
                                "(save_gpt writes both)")
    tokenizer = BPETokenizer.load(_tokenizer_path(path))
    extra = dict(state["extra"])
    extra["result"] = TrainResult(step=state.get("step", 0), losses=list(state.get("losses") or []),
                                  evals=list(state.get("evals") or []), seconds=extra.get("seconds", 0.0))
    return model.eval(), tokenizer, extra


def load_or_train_gpt(
    path: str | Path = DEFAULT_CHECKPOINT, recipe: LMRecipe | None = None, progress: bool = True, *,
    retrain: bool = False, data: LMData | None = None,
) -> tuple[GPT, BPETokenizer, dict]:
    """Load the checkpoint if it was made with exactly this recipe; otherwise (or with retrain=True) train and save.

    Returns (model, tokenizer, extra) as `load_gpt` does, extra["result"] holding the training history.
    `data` (from `build_data(recipe.vocab_size)`) saves rebuilding it when training. A file at `path`
    that is not a tinyformer checkpoint raises ValueError and is left as it is.
    """
    recipe = recipe or LMRecipe()
    if not isinstance(recipe, LMRecipe):
        raise TypeError(f"recipe must be an LMRecipe, got {type(recipe).__name__}")
    if not isinstance(retrain, bool):
        raise TypeError(f"retrain must be True or False, got {retrain!r}")
    path = Path(path)
    if path.is_file() and _tokenizer_path(path).is_file():
        model, tokenizer, extra = load_gpt(path)
        if extra.get("recipe") == _recipe_dict(recipe) and not retrain:
            return model, tokenizer, extra
    elif path.is_file():
        read_checkpoint(path)  # a file that is not ours raises here instead of being overwritten
    data = data if data is not None else build_data(recipe.vocab_size)
    model, result = train_gpt(data, recipe, progress=progress)
    metrics = result.evals[-1] if result.evals else evaluate_lm(model, data.held_out_ids, recipe.seq_len)
    save_gpt(path, model, data.tokenizer, recipe, metrics, result)
    return model, data.tokenizer, {"recipe": _recipe_dict(recipe), "metrics": metrics, "result": result}
