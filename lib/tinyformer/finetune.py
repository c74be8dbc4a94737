"""Pretrain, then fine-tune: notebook 08's docs GPT turned into a classifier, against the same model from scratch.

The task (made here, from the docs corpus): is a run of words as written, or scrambled? Two
scramblings: "letters" (each word's inner letters shuffled: a spelling test) and "words" (the words
shuffled: the same words in both classes, only the order tells). Labelled examples come from the
training topics' text, the test set from the held-out topics (text the GPT never saw).

`GPTClassifier` reads a GPT's final hidden states (B, T, C) and a linear head -> logits (B, 2):
- "causal": the blocks with their causal mask, the last token's state (it has seen every token);
- "bidirectional": the blocks with no mask (every token sees every token), the mean over tokens.
The pretrained GPT learned with the causal mask only, so "bidirectional" asks it to read in a way
it was not trained for; from scratch, both are new.

Shapes: B batch, T tokens, C d_model. Sources: Radford et al. 2018 (GPT: generative pretraining,
then discriminative fine-tuning); Devlin et al. 2019 (BERT: bidirectional encoders).
"""

from __future__ import annotations

import copy
import random
import time
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .model import GPT

__all__ = ["CORRUPTIONS", "scrambled_examples", "GPTClassifier", "finetune_classifier", "accuracy", "run_finetune_comparison"]

READS = ("causal", "bidirectional")


CORRUPTIONS = ("letters", "words")


def _scramble_letters(word: str, rng: random.Random) -> str:
    """The inner letters of a word of 4+ characters shuffled, first and last kept ("fnuticon")."""
    if len(word) < 4:
        return word
    middle = list(word[1:-1])
    rng.shuffle(middle)
    return word[0] + "".join(middle) + word[-1]


def scrambled_examples(text: str, tokenize: Callable[[str], list[int]], corrupt: str = "letters", n_words: int = 20,
                       n_tokens: int = 24, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (N, n_tokens) long, labels (N,) long): windows of `n_words` words, 1 = as written, 0 = scrambled.

    corrupt="letters": each word's inner letters shuffled (the spelling is wrong, the order right);
    corrupt="words": the words shuffled (each word right, the order wrong; the same words in both classes).
    Each window gives both versions, each encoded and cut to its first `n_tokens` tokens (windows
    shorter than that are skipped); the examples are shuffled together (seeded), the classes balanced.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if corrupt not in CORRUPTIONS:
        raise ValueError(f"corrupt={corrupt!r} must be one of {', '.join(CORRUPTIONS)}")
    for name, value in (("n_words", n_words), ("n_tokens", n_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"{name}={value!r} must be an int >= 2")
    rng = random.Random(seed)
    words = text.split()
    ids, labels = [], []
    for i in range(0, len(words) - n_words + 1, n_words):
        window = words[i : i + n_words]
        if corrupt == "letters":
            scrambled = [_scramble_letters(w, rng) for w in window]
        else:
            scrambled = window[:]
            rng.shuffle(scrambled)
        if scrambled == window:
            continue
        real, fake = tokenize(" ".join(window)), tokenize(" ".join(scrambled))
        if len(real) >= n_tokens and len(fake) >= n_tokens:
            ids += [real[:n_tokens], fake[:n_tokens]]
            labels += [1, 0]
    if not ids:
        raise ValueError(f"text gives no window of {n_words} words with {n_tokens} tokens")
    order = list(range(len(ids)))
    rng.shuffle(order)
    return (torch.tensor([ids[i] for i in order], dtype=torch.long),
            torch.tensor([labels[i] for i in order], dtype=torch.long))


class GPTClassifier(nn.Module):
    """A GPT's body and a linear head: forward(idx (B, T)) -> logits (B, n_classes).

    read="causal": causal blocks, the last position's final state; read="bidirectional": blocks with
    no mask, the mean of the final states. The GPT's own output layer (lm_head) is not used.
    """

    def __init__(self, gpt: GPT, n_classes: int = 2, read: str = "causal"):
        super().__init__()
        if not isinstance(gpt, GPT):
            raise TypeError(f"gpt must be a tinyformer GPT, got {type(gpt).__name__}")
        if read not in READS:
            raise ValueError(f"read={read!r} must be one of {', '.join(READS)}")
        self.gpt, self.read = gpt, read
        self.head = nn.Linear(gpt.config.d_model, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        g = self.gpt
        x = g.tok_embed(idx) + g.pos_embed(idx.shape[1])  # (B, T, C)
        for block in g.blocks:
            x = block(x, causal=self.read == "causal")  # (B, T, C)
        x = g.norm(x)
        pooled = x[:, -1] if self.read == "causal" else x.mean(dim=1)  # (B, C)
        return self.head(pooled)  # (B, n_classes)


@torch.no_grad()
def accuracy(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, batch_size: int = 128) -> float:
    """Fraction of examples whose argmax class is the label."""
    was_training = model.training
    model.eval()
    right = sum((model(ids[i : i + batch_size]).argmax(-1) == labels[i : i + batch_size]).sum().item()
                for i in range(0, len(ids), batch_size))
    model.train(was_training)
    return right / len(ids)


def finetune_classifier(model: GPTClassifier, ids: torch.Tensor, labels: torch.Tensor, steps: int = 150,
                        batch_size: int = 16, lr: float = 1e-3, seed: int = 0) -> GPTClassifier:
    """AdamW on the cross-entropy of random batches (seeded) of the labelled examples; every weight trains."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for _ in range(steps):
        pick = torch.randint(0, len(ids), (min(batch_size, len(ids)),), generator=g)
        loss = F.cross_entropy(model(ids[pick]), labels[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def run_finetune_comparison(pretrained: GPT, tokenize: Callable[[str], list[int]], train_text: str, test_text: str,
                            n_labelled: Sequence[int] = (16, 64, 256), steps: int = 100, batch_size: int = 16,
                            lr: float = 3e-4, seed: int = 0, n_test: int | None = None, corrupt: str = "letters",
                            log: Callable[[str], None] | None = print) -> dict:
    """Accuracy on held-out examples vs labelled examples, for pretrained / from scratch x causal / bidirectional.

    The from-scratch model is `GPT(pretrained.config)` seeded with `seed`; both train with the same
    examples, steps and learning rate. Returns a JSON-ready dict with one row per n.
    """
    train_ids, train_labels = scrambled_examples(train_text, tokenize, corrupt, seed=seed)
    test_ids, test_labels = scrambled_examples(test_text, tokenize, corrupt, seed=seed + 1)
    if n_test is not None:
        test_ids, test_labels = test_ids[:n_test], test_labels[:n_test]
    if max(n_labelled) > len(train_ids):
        raise ValueError(f"n_labelled up to {max(n_labelled)} but the training text gives {len(train_ids)} examples")
    rows = []
    for n in n_labelled:
        row: dict = {"n_labelled": n}
        for start in ("pretrained", "scratch"):
            for read in READS:
                torch.manual_seed(seed)
                body = copy.deepcopy(pretrained) if start == "pretrained" else GPT(pretrained.config)
                clf = GPTClassifier(body, read=read)
                t = time.perf_counter()
                finetune_classifier(clf, train_ids[:n], train_labels[:n], steps, batch_size, lr, seed)
                row[f"{start}_{read}"] = accuracy(clf, test_ids, test_labels)
                row[f"{start}_{read}_seconds"] = time.perf_counter() - t
        rows.append(row)
        if log:
            log(f"n={n:5d}  " + "  ".join(f"{k} {v:.3f}" for k, v in row.items() if k != "n_labelled"
                                          and not k.endswith("seconds")))
    return {"settings": {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "corrupt": corrupt, "n_words": 20,
                         "n_tokens": 24, "n_train_pool": len(train_ids), "n_test": len(test_ids),
                         "model": {k: v for k, v in vars(pretrained.config).items()}},
            "rows": rows}
