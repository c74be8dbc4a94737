"""Tests of tinyformer.model: equal to nn.Transformer, causal in train and eval, tying, counts, errors."""

import pytest
import torch
from torch import nn

from tinyformer.masks import padding_mask
from tinyformer.model import GPT, GPTConfig, Transformer, TransformerConfig, count_parameters

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")  # nn.Transformer's fast-path notice


def copy_from_torch(ours: Transformer, ref: nn.Transformer) -> None:
    """Load nn.Transformer's weights into our layers (names differ only in ffn/cross_attn/final norms)."""
    sd = {}
    for k, v in ref.state_dict().items():
        k = k.replace("encoder.layers.", "encoder_layers.").replace("decoder.layers.", "decoder_layers.")
        k = k.replace("encoder.norm.", "encoder_norm.").replace("decoder.norm.", "decoder_norm.")
        k = k.replace("multihead_attn.", "cross_attn.").replace(".linear1.", ".ffn.linear1.").replace(".linear2.", ".ffn.linear2.")
        sd[k] = v
    missing, unexpected = ours.load_state_dict(sd, strict=False)
    assert not unexpected
    assert all(k.startswith(("src_embed", "tgt_embed", "generator", "src_pos", "tgt_pos")) for k in missing)


@pytest.mark.parametrize("norm_first", [False, True])
def test_matches_torch_transformer(norm_first):
    torch.manual_seed(0)
    cfg = TransformerConfig(src_vocab_size=30, tgt_vocab_size=25, d_model=32, n_heads=4, n_encoder_layers=2,
                            n_decoder_layers=2, d_ff=64, dropout=0.0, norm_first=norm_first)
    ours = Transformer(cfg).double()
    ref = nn.Transformer(32, 4, 2, 2, 64, dropout=0.0, batch_first=True, norm_first=norm_first).double()
    copy_from_torch(ours, ref)
    src = torch.tensor([[3, 4, 5, 6, 7, 0, 0], [1, 2, 3, 4, 5, 6, 7]])
    tgt = torch.tensor([[1, 9, 8, 7, 0], [1, 2, 3, 4, 5]])
    pos = ours.src_pos.pe.double()
    src_x, tgt_x = ours.src_embed(src) + pos[:7], ours.tgt_embed(tgt) + pos[:5]
    out = ref(src_x, tgt_x, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64),
              src_key_padding_mask=(src == 0), memory_key_padding_mask=(src == 0))
    want = ours.generator(out)
    torch.testing.assert_close(ours(src, tgt), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.encode(src)[1], ref.encoder(src_x)[1], atol=1e-5, rtol=1e-5)


def _no_leak(model_fn, tgt, vocab, t):
    """Change tgt[:, t+1:]; outputs up to t must stay the same (same dropout draws via the seed)."""
    tgt2 = tgt.clone()
    shift = torch.randint(1, vocab - 1, tgt[:, t + 1:].shape)  # ids live in 1..vocab-1; shift them cyclically
    tgt2[:, t + 1:] = (tgt[:, t + 1:] - 1 + shift) % (vocab - 1) + 1
    assert (tgt2[:, t + 1:] != tgt[:, t + 1:]).all()
    torch.manual_seed(123)
    a = model_fn(tgt)
    torch.manual_seed(123)
    b = model_fn(tgt2)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1:], b[:, t + 1:])


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_is_causal_in_train_and_eval(train, norm_first):
    torch.manual_seed(0)
    cfg = TransformerConfig(20, 20, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=2, d_ff=32,
                            dropout=0.1, norm_first=norm_first)
    model = Transformer(cfg).train(train)
    src = torch.randint(1, 20, (2, 6))
    tgt = torch.randint(1, 20, (2, 8))
    for t in (0, 3, 6):
        _no_leak(lambda y: model(src, y), tgt, 20, t)


@pytest.mark.parametrize("train", [True, False])
def test_gpt_is_causal_in_train_and_eval(train):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, d_model=16, n_heads=2, n_layers=2, d_ff=32, dropout=0.1)).train(train)
    idx = torch.randint(1, 20, (3, 10))
    for t in (0, 4, 8):
        _no_leak(model, idx, 20, t)


def test_source_padding_is_ignored():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(20, 20, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
                                          d_ff=32, dropout=0.0)).eval()
    src = torch.tensor([[4, 5, 6, 0, 0]])
    tgt = torch.tensor([[1, 7, 8]])
    torch.testing.assert_close(model(src, tgt), model(src[:, :3], tgt))


def test_weight_tying_shares_one_matrix():
    cfg = TransformerConfig(30, 25, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=32)
    untied, tied = Transformer(cfg), Transformer(TransformerConfig(**{**cfg.__dict__, "tie_embeddings": True}))
    assert tied.generator.weight is tied.tgt_embed.weight
    assert count_parameters(untied)["total"] - count_parameters(tied)["total"] == 25 * 16
    gpt = GPT(GPTConfig(vocab_size=50, d_model=16, n_heads=2, n_layers=1, d_ff=32))
    assert gpt.lm_head.weight is gpt.tok_embed.weight


def test_count_parameters_by_hand():
    """C=16, d_ff=32, V=30/25, 1+1 layers: attention 4C^2+4C per MHA, FFN 2*C*d_ff + d_ff + C, norm 2C."""
    C, F, H = 16, 32, 2
    cfg = TransformerConfig(30, 25, d_model=C, n_heads=H, n_encoder_layers=1, n_decoder_layers=1, d_ff=F)
    counts = count_parameters(Transformer(cfg))
    mha, ffn, norm = 4 * C * C + 4 * C, 2 * C * F + F + C, 2 * C
    assert counts == {"embeddings": (30 + 25) * C, "attention": 3 * mha, "ffn": 2 * ffn,
                      "norms": (2 + 3 + 2) * norm, "output": 25 * C + 25, "total": sum(p.numel() for p in Transformer(cfg).parameters())}
    ref = count_parameters(nn.Transformer(C, H, 1, 1, F))
    assert (ref["attention"], ref["ffn"], ref["norms"]) == (counts["attention"], counts["ffn"], counts["norms"])


def test_learned_positions_and_return_attention():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(20, 22, d_model=16, n_heads=2, n_encoder_layers=2, n_decoder_layers=3,
                                          d_ff=32, positional="learned"))
    assert model.src_pos is not model.tgt_pos
    src, tgt = torch.randint(1, 20, (2, 6)), torch.randint(1, 22, (2, 4))
    memory, enc_w = model.encode(src, return_attention=True)
    logits, dec_w = model.decode(tgt, memory, padding_mask(src, 0), return_attention=True)
    assert memory.shape == (2, 6, 16) and logits.shape == (2, 4, 22)
    assert [w.shape for w in enc_w] == [(2, 2, 6, 6)] * 2
    assert [w.shape for w in dec_w["self"]] == [(2, 2, 4, 4)] * 3
    assert [w.shape for w in dec_w["cross"]] == [(2, 2, 4, 6)] * 3
    gpt = GPT(GPTConfig(vocab_size=20, block_size=8, d_model=16, n_heads=2, n_layers=2, d_ff=32))
    logits, ws = gpt(torch.randint(0, 20, (1, 5)), return_attention=True)
    assert logits.shape == (1, 5, 20) and [w.shape for w in ws] == [(1, 2, 5, 5)] * 2


def test_bad_input_errors():
    with pytest.raises(ValueError, match="d_model=10 is not divisible by n_heads=4"):
        Transformer(TransformerConfig(10, 10, d_model=10, n_heads=4))
    with pytest.raises(ValueError, match="d_model=10 is not divisible by n_heads=4"):
        GPT(GPTConfig(10, d_model=10, n_heads=4))
    with pytest.raises(ValueError, match="positional='rotary'"):
        Transformer(TransformerConfig(10, 10, positional="rotary"))
    with pytest.raises(ValueError, match="activation='swish'"):
        GPT(GPTConfig(10, activation="swish"))
    with pytest.raises(ValueError, match="n_layers=0"):
        GPT(GPTConfig(10, n_layers=0))
    model = Transformer(TransformerConfig(20, 20, d_model=16, n_heads=2, n_encoder_layers=1, n_decoder_layers=1,
                                          d_ff=32, max_len=8))
    with pytest.raises(ValueError, match="same batch size: src has 2, tgt has 3"):
        model(torch.ones(2, 4, dtype=torch.long), torch.ones(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"src has length 9.*max_len=8"):
        model(torch.ones(2, 9, dtype=torch.long), torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tgt has length 10.*max_len=8"):
        model(torch.ones(2, 4, dtype=torch.long), torch.ones(2, 10, dtype=torch.long))
    with pytest.raises(ValueError, match=r"src must have shape \(B, T\), got \(4,\)"):
        model(torch.ones(4, dtype=torch.long), torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.ones(2, 4), torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="memory must have shape"):
        model.decode(torch.ones(2, 4, dtype=torch.long), torch.ones(2, 5, 12))
    with pytest.raises(ValueError, match="tgt has 2, memory has 3"):
        model.decode(torch.ones(2, 4, dtype=torch.long), torch.ones(3, 5, 16))
    gpt = GPT(GPTConfig(vocab_size=20, block_size=8, d_model=16, n_heads=2, n_layers=1, d_ff=32))
    with pytest.raises(ValueError, match=r"idx has length 9.*max_len=8"):
        gpt(torch.ones(1, 9, dtype=torch.long))
    with pytest.raises(TypeError, match="model must be"):
        count_parameters("gpt")


def test_training_step_reduces_loss_on_a_copy_task(one_thread):
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(12, 12, d_model=32, n_heads=4, n_encoder_layers=1, n_decoder_layers=1,
                                          d_ff=64, dropout=0.0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    src = torch.randint(3, 12, (32, 6))
    tgt = torch.cat([torch.ones(32, 1, dtype=torch.long), src], dim=1)  # SOS=1 then the copy
    losses = []
    for _ in range(60):
        logits = model(src, tgt[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 12), tgt[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]
