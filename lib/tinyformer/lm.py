"""The recipe for notebook 08's small GPT: real English (the CPython docs), course BPE, a few CPU minutes.

Data: `tinyformer.corpus.python_docs_split` (the text behind `help("if")` and friends, split by
topic so the held-out text is unseen), tokenized with a `BPETokenizer` trained on the training
part only. Batches are random windows of the token stream, a deterministic function of the step,
so `tinyformer.train.train` can resume exactly; every window that fits is drawn, up to the one
ending on the last token. Held-out loss is the mean next-token cross-entropy over non-overlapping
windows of the held-out topics; perplexity = exp(loss).
The model and tokenizer are saved under data/generated/ (a checkpoint + the tokenizer's JSON).
On CUDA (`device="cuda"`, not the notebooks' default) the forward runs under bfloat16 autocast, the
attention through `F.scaled_dot_product_attention` (the fused flash kernel; `MultiHeadAttention`'s
default `fast=True` path, causal without a mask), optionally `torch.compile`d.
Command line: `python -m tinyformer.lm train --steps N --checkpoint PATH [--resume]`, also under
`torchrun --standalone --nproc_per_node 2 -m tinyformer.lm train ...` (data parallel, see distributed.py).
Left out: dropout (the run is far too short to overfit), float16 loss scaling, data loaders.
Shapes: B batch, T time, V vocab.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.distributed as dist
import torch.nn.functional as F

from tinyformer.checkpoint import fill_defaults, read_checkpoint, restore_checkpoint, save_checkpoint
from tinyformer.corpus import python_docs_split
from tinyformer.data import encode_text
from tinyformer.distributed import init_distributed, rank_and_world
from tinyformer.model import GPT, GPTConfig
from tinyformer.tokenizer import BPETokenizer
from tinyformer.train import TrainConfig, TrainResult, check_resume, train
from tinyformer.utils import generated_dir, get_device

__all__ = [
    "LMRecipe",
    "LMData",
    "build_data",
    "make_get_batch",
    "lm_loss",
    "loss_for_device",
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


def lm_loss_bf16(model: GPT, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """`lm_loss` with the forward under CUDA bfloat16 autocast; the softmax and the mean in float32."""
    x, y = batch
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(x)  # (B, T, V) bfloat16
    return F.cross_entropy(logits.float().flatten(0, 1), y.flatten())


def loss_for_device(device: str | torch.device) -> Callable[[GPT, tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    """The training loss for `device`: `lm_loss_bf16` on CUDA, `lm_loss` (float32) anywhere else."""
    return lm_loss_bf16 if torch.device(device).type == "cuda" else lm_loss


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
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = ids[: n * seq_len].view(n, seq_len).to(device)  # (N, T)
    y = ids[1 : n * seq_len + 1].view(n, seq_len).to(device)
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
    device: str | torch.device = "cpu", compile_model: bool = False, on_eval: Callable[[dict], None] | None = None,
) -> tuple[GPT, TrainResult]:
    """A fresh GPT (seeded) trained with `tinyformer.train.train`; evals hold the held-out loss.

    With `checkpoint_path` the run state is saved every `checkpoint_every` steps and at the end;
    `resume=True` continues from it exactly. A resume applies a larger `recipe.steps` and refuses
    any other changed setting (lr, warmup_steps, batch_size, seq_len, seed, vocab_size, the model),
    naming each with both values (`tinyformer.train.check_resume`).

    `device` (default "cpu", what the notebooks use) is where the model trains; on "cuda" the loss is
    `lm_loss_bf16`. It is not part of the recipe: the same recipe on a GPU is the same model up to
    rounding, as on another CPU. `compile_model=True` runs the steps through `torch.compile`. Under
    torchrun (an initialised process group) each process trains on its share of every batch.
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
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or a torch.device, got {type(device).__name__}")
    device = get_device(str(device))  # ValueError naming it when it is not one, or not here
    torch.manual_seed(recipe.seed)
    model = GPT(recipe.model).to(device)
    get_batch = make_get_batch(data.train_ids, recipe.batch_size, recipe.seq_len, recipe.seed)
    result = train(model, get_batch, loss_for_device(device), config,
                   eval_fn=lambda m: evaluate_lm(m, data.held_out_ids, recipe.seq_len),
                   model_config=recipe.model, run_config=run_config, resume=resume, on_eval=on_eval,
                   compile_model=compile_model)
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


def _saved_recipe(saved: object, recipe: LMRecipe) -> object:
    """A saved recipe dict with the model fields added since it was saved at their defaults (e.g. attention)."""
    if isinstance(saved, dict) and isinstance(saved.get("model"), dict):
        saved = {**saved, "model": fill_defaults(saved["model"], recipe.model)}
    return saved


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
        if _saved_recipe(extra.get("recipe"), recipe) == _recipe_dict(recipe) and not retrain:
            return model, tokenizer, extra
    elif path.is_file():
        read_checkpoint(path)  # a file that is not ours raises here instead of being overwritten
    data = data if data is not None else build_data(recipe.vocab_size)
    model, result = train_gpt(data, recipe, progress=progress)
    metrics = result.evals[-1] if result.evals else evaluate_lm(model, data.held_out_ids, recipe.seq_len)
    save_gpt(path, model, data.tokenizer, recipe, metrics, result)
    return model, data.tokenizer, {"recipe": _recipe_dict(recipe), "metrics": metrics, "result": result}


# ---------------------------------------------------------------------------------------------
# command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tinyformer.lm",
                                description="Train notebook 08's GPT on the Python docs; on one process or, under "
                                            "torchrun, on several (data parallel).")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from scratch (or resume) and save the GPT and its tokenizer",
                       description="Train a GPT; the defaults are notebook 08's recipe. Several processes: "
                                   "torchrun --standalone --nproc_per_node 2 -m tinyformer.lm train ...")
    d, m = LMRecipe(), LMRecipe().model
    t.add_argument("--steps", type=int, default=d.steps, help=f"optimizer steps (default {d.steps})")
    t.add_argument("--checkpoint", type=Path, required=True,
                   help="where to save the GPT (PATH) and its tokenizer (next to it); the run's state for --resume "
                        "is kept in PATH with the suffix .run.pt")
    t.add_argument("--resume", action="store_true",
                   help="continue the run from its state (at any number of processes); --steps may grow, any other "
                        "setting must match the run's")
    t.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"global batch, split evenly over the processes (default {d.batch_size})")
    t.add_argument("--seq-len", type=int, default=d.seq_len, help=f"training window (default {d.seq_len})")
    t.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr})")
    t.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help=f"(default {d.warmup_steps})")
    t.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    t.add_argument("--vocab-size", type=int, default=d.vocab_size, help=f"BPE vocabulary (default {d.vocab_size})")
    t.add_argument("--block-size", type=int, default=m.block_size, help=f"longest context (default {m.block_size})")
    t.add_argument("--d-model", type=int, default=m.d_model, help=f"model width (default {m.d_model})")
    t.add_argument("--heads", type=int, default=m.n_heads, help=f"attention heads (default {m.n_heads})")
    t.add_argument("--layers", type=int, default=m.n_layers, help=f"blocks (default {m.n_layers})")
    t.add_argument("--d-ff", type=int, default=m.d_ff, help=f"feed-forward width (default {m.d_ff})")
    t.add_argument("--device", default="cpu",
                   help="cpu (default), cuda (bfloat16 autocast, fused attention; one GPU per process under "
                        "torchrun) or auto (tinyformer.utils.get_device)")
    t.add_argument("--compile", action="store_true", help="run the steps through torch.compile")
    t.add_argument("--eval-every", type=int, default=0, help="held-out loss every N steps (default 0: at the end)")
    t.add_argument("--checkpoint-every", type=int, default=50, help="save the run's state every N steps (default 50)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _recipe_from_args(args: argparse.Namespace) -> LMRecipe:
    """The recipe the flags describe; with no flags, LMRecipe() (so the default run is notebook 08's model)."""
    return LMRecipe(vocab_size=args.vocab_size, steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len,
                    lr=args.lr, warmup_steps=args.warmup_steps, seed=args.seed,
                    model=GPTConfig(vocab_size=args.vocab_size, block_size=args.block_size, d_model=args.d_model,
                                    n_heads=args.heads, n_layers=args.layers, d_ff=args.d_ff))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        device = init_distributed(get_device(None if args.device == "auto" else args.device))
        rank, world = rank_and_world()
        recipe = _recipe_from_args(args)
        if recipe.batch_size % world:
            raise ValueError(f"--batch-size={recipe.batch_size} does not split evenly over {world} processes")
    except (TypeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    def show(metrics: dict) -> None:
        print(f"step {metrics['step']:5d}  held-out loss {metrics['loss']:.4f}  perplexity {metrics['perplexity']:.2f}",
              flush=True)

    try:
        data = build_data(recipe.vocab_size)  # the same on every process (BPE training is deterministic)
        run_state = args.checkpoint.with_suffix(".run.pt")
        model, result = train_gpt(data, recipe, progress=not args.no_progress, eval_every=args.eval_every,
                                  checkpoint_path=run_state, checkpoint_every=args.checkpoint_every,
                                  resume=args.resume, device=device, compile_model=args.compile, on_eval=show)
    except ValueError as e:  # a changed setting on --resume, a bad value
        print(f"error: {e}", file=sys.stderr)
        return 2
    if rank == 0:
        save_gpt(args.checkpoint, model, data.tokenizer, recipe, result.evals[-1], result)
        if result.resumed_from is not None:
            print(f"resumed from step {result.resumed_from}")
        print(f"saved {args.checkpoint} after {result.step} steps on {world} process(es) ({device.type}) "
              f"in {result.seconds:.0f} s")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
