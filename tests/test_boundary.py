"""Tests for tinyformer.boundary: planes, batched/cached maps against plain loops, EG-BAS pieces."""

import pytest
import torch

from tinyformer import boundary as B
from tinyformer.model import GPT, GPTConfig


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=40, block_size=16, d_model=16, n_heads=2, n_layers=3, d_ff=32))
    with torch.no_grad():  # larger weights than GPT-2's init, so outputs vary across the space
        for p in model.parameters():
            if p.dim() == 2:
                p.mul_(10)
    return model.eval()


PROMPT = [3, 17, 5, 9, 22]
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: two threads on a busy machine crawl


def test_prompt_residuals_is_block_input():
    model = tiny_gpt()
    x = model.tok_embed(torch.tensor([PROMPT])) + model.pos_embed(len(PROMPT))
    x = model.blocks[0](x, causal=True)
    torch.testing.assert_close(B.prompt_residuals(model, PROMPT, 1), x[0])


def test_logits_at_own_residual_equal_model_logits():
    model = tiny_gpt()
    for layer in range(3):
        h = B.prompt_residuals(model, PROMPT, layer)[-1]
        ours = B.next_token_logits_at(model, PROMPT, layer, h)[0]
        torch.testing.assert_close(ours, model(torch.tensor([PROMPT]))[0, -1], rtol=1e-5, atol=1e-5)


def test_logits_at_other_point_match_full_forward_with_replaced_input():
    model = tiny_gpt()
    torch.manual_seed(1)
    points = torch.randn(5, 16) * 3
    ours = B.next_token_logits_at(model, PROMPT, 1, points, batch_size=2)  # batches of 2, 2, 1
    x = model.tok_embed(torch.tensor([PROMPT] * 5)) + model.pos_embed(len(PROMPT))
    x = model.blocks[0](x, causal=True).clone()
    x[:, -1] = points
    for block in model.blocks[1:]:
        x = block(x, causal=True)
    torch.testing.assert_close(ours, model.lm_head(model.norm(x))[:, -1], rtol=1e-5, atol=1e-5)


def test_cached_continuations_equal_uncached_loop():
    model = tiny_gpt()
    torch.manual_seed(2)
    h = B.prompt_residuals(model, PROMPT, 1)[-1]
    points = h + torch.randn(12, 16) * 4
    cached = B.greedy_continuations(model, PROMPT, 1, points, k=5, batch_size=5)
    loop = [B.greedy_continuation_uncached(model, PROMPT, 1, p, k=5) for p in points]
    assert cached.tolist() == loop
    assert len({tuple(r) for r in loop}) > 1  # the points do not all continue alike: the test can fail


def test_single_token_prompt():
    model = tiny_gpt()
    h = B.prompt_residuals(model, [7], 0)[-1]
    assert B.greedy_continuations(model, [7], 0, h, k=3)[0].tolist() == \
        B.greedy_continuation_uncached(model, [7], 0, h, k=3)


def test_plane_grid_corners_are_spanning_states():
    torch.manual_seed(0)
    a, b = torch.randn(16), torch.randn(16)
    g = B.plane_grid(a, b, resolution=5, span=(0, 1))
    assert g.points.shape == (5, 5, 16)
    torch.testing.assert_close(g.points[0, 0], torch.zeros(16))
    torch.testing.assert_close(g.points[0, -1], a)  # s = 1 along u (columns)
    torch.testing.assert_close(g.points[-1, 0], b)  # t = 1 along v (rows)
    torch.testing.assert_close(g.points[-1, -1], a + b)
    torch.testing.assert_close(g.coords(torch.stack([a, b])), torch.eye(2), atol=1e-5, rtol=1e-5)


def test_principal_plane_directions():
    torch.manual_seed(0)
    states = torch.randn(50, 2) @ torch.tensor([[3.0, 0, 0, 0], [0, 0, 1.0, 0]]) + 5  # variance along e1, e3
    g = B.principal_plane(states, states[0], resolution=3, span=(-1, 1))
    torch.testing.assert_close(g.points[1, 1], states[0])
    assert abs(float(g.u @ g.v)) < 1e-4
    assert abs(g.u[0]) > 2 * g.u.norm() / 2.5 and abs(g.v[2]) > 0.5 * g.v.norm()


def test_maps_shapes_and_labels():
    model = tiny_gpt()
    h0 = B.prompt_residuals(model, PROMPT, 1)[-1]
    h1 = B.prompt_residuals(model, [1, 2, 3], 1)[-1]
    g = B.plane_grid(h0, h1, resolution=6)
    m = B.next_token_map(model, PROMPT, 1, g, temperature=0.5)
    assert m.token.shape == m.prob.shape == (6, 6)
    assert bool(((m.prob > 0) & (m.prob <= 1)).all())
    logits = B.next_token_logits_at(model, PROMPT, 1, g.flat())
    assert m.token.flatten().tolist() == logits.argmax(-1).tolist()
    torch.testing.assert_close(m.prob.flatten(), torch.softmax(logits / 0.5, -1).amax(-1))
    assert bool((B.next_token_map(model, PROMPT, 1, g, temperature=0).prob == 1).all())
    c = B.continuation_map(model, PROMPT, 1, g, k=3)
    assert c.tokens.shape == (6, 6, 3) and sum(c.counts) == 36
    assert c.counts == sorted(c.counts, reverse=True)
    for i, j in [(0, 0), (2, 5), (5, 3)]:
        assert c.continuations[c.label[i, j]] == tuple(c.tokens[i, j].tolist())


def test_unit_preactivations_match_block_internals():
    model = tiny_gpt()
    torch.manual_seed(3)
    points = torch.randn(4, 16)
    ours = B.unit_preactivations(model, PROMPT, 2, points)
    x = B.prompt_residuals(model, PROMPT, 2)[None].repeat(4, 1, 1)
    x[:, -1] = points
    block = model.blocks[2]
    x = x + block.self_attn(block.norm1(x), causal=True)[0]
    torch.testing.assert_close(ours, block.ffn.linear1(block.norm2(x))[:, -1], rtol=1e-5, atol=1e-5)


def test_learn_unit_mask_keeps_only_units_that_matter():
    model = tiny_gpt()
    with torch.no_grad():  # only units 0..3 of block 1 reach the residual stream, and strongly
        w = model.blocks[1].ffn.linear2.weight
        w[:, 4:] = 0
        w[:, :4] *= 5
    before = {k: v.clone() for k, v in model.state_dict().items()}
    um = B.learn_unit_mask(model, PROMPT, 1, steps=60, lr=0.3)
    assert set(um.kept.tolist()) <= {0, 1, 2, 3} and um.kept.numel() >= 1
    assert um.kl_kept < 0.1 * um.kl_none
    assert all(p.requires_grad for p in model.parameters())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_rrt_nodes_keep_every_kept_units_sign():
    model = tiny_gpt()
    kept = torch.tensor([0, 3, 7, 11, 20])
    h = B.prompt_residuals(model, PROMPT, 1)[-1]
    tree = B.grow_rrt(model, PROMPT, 1, kept, radius=3 * float(h.norm()), n_nodes=40, step=float(h.norm()), seed=0)
    assert tree.nodes.shape[0] == 40 and tree.parent[0] == -1
    assert tree.rejected > 0  # the boundaries were met: the test can fail
    z = B.unit_preactivations(model, PROMPT, 1, tree.nodes)[:, kept]
    assert bool(((z > 0) == (z[0] > 0)).all())
    assert bool((tree.parent[1:] < torch.arange(1, 40)).all())  # every parent was added before its child
    assert float((tree.nodes - h).norm(dim=1).max()) <= 3 * float(h.norm()) * (1 + 1e-5)


def test_rrt_in_a_plane_stays_in_it():
    model = tiny_gpt()
    h = B.prompt_residuals(model, PROMPT, 1)[-1]
    torch.manual_seed(4)
    basis = torch.randn(2, 16)
    tree = B.grow_rrt(model, PROMPT, 1, torch.tensor([1, 2]), radius=5.0, n_nodes=20, basis=basis)
    g = B.plane_grid(basis[0], basis[1], origin=h)
    torch.testing.assert_close(g.origin + g.coords(tree.nodes) @ torch.stack([g.u, g.v]), tree.nodes,
                               atol=1e-4, rtol=1e-4)


def test_ball_and_shell_samples():
    c = torch.randn(16)
    pts = B.ball_samples(c, 2.0, 500, seed=1)
    d = (pts - c).norm(dim=1)
    assert bool((d <= 2.0 + 1e-5).all()) and float(d.min()) < 1.9
    torch.testing.assert_close(B.ball_samples(c, 2.0, 500, seed=1), pts)
    want = torch.linspace(0.5, 3, 7)
    torch.testing.assert_close((B.shell_samples(c, want) - c).norm(dim=1), want)


def test_compare_tree_ball_of_query_alone_and_of_itself():
    model = tiny_gpt()
    h = B.prompt_residuals(model, PROMPT, 1)[-1]
    near = h + 1e-4 * torch.randn(3, 16)
    r = B.compare_tree_ball(model, PROMPT, 1, {"near": torch.cat([h[None], near]), "far": near * 50})
    assert list(r) == ["far", "near"] and r["near"]["n"] == 3  # the query itself is left out
    assert r["near"]["kl"] < 1e-5 and r["near"]["same_next"] == r["near"]["same_continuation"] == 1.0
    assert r["far"]["kl"] > 1e-3


@pytest.mark.parametrize("call, match", [
    (lambda m: B.next_token_logits_at("gpt", PROMPT, 0, torch.zeros(16)), "model"),
    (lambda m: B.next_token_logits_at(m, [], 0, torch.zeros(16)), "idx"),
    (lambda m: B.next_token_logits_at(m, [1, 99], 0, torch.zeros(16)), "idx"),
    (lambda m: B.next_token_logits_at(m, torch.zeros(2, 3, dtype=torch.long), 0, torch.zeros(16)), "idx"),
    (lambda m: B.next_token_logits_at(m, PROMPT, 3, torch.zeros(16)), "layer"),
    (lambda m: B.next_token_logits_at(m, PROMPT, 0, torch.zeros(8)), "points"),
    (lambda m: B.next_token_logits_at(m, PROMPT, 0, torch.full((16,), float("nan"))), "points"),
    (lambda m: B.greedy_continuations(m, PROMPT, 0, torch.zeros(16), k=0), "k"),
    (lambda m: B.greedy_continuations(m, PROMPT, 0, torch.zeros(16), k=13), "k"),
    (lambda m: B.plane_grid(torch.ones(4), torch.ones(4) * 2), "parallel"),
    (lambda m: B.plane_grid(torch.ones(4), torch.arange(4.0), resolution=1), "resolution"),
    (lambda m: B.plane_grid(torch.ones(4), torch.arange(4.0), span=(1, 0)), "span"),
    (lambda m: B.principal_plane(torch.randn(2, 4), torch.zeros(4)), "states"),
    (lambda m: B.next_token_map(m, PROMPT, 0, torch.zeros(3, 3, 16)), "grid"),
    (lambda m: B.next_token_map(m, PROMPT, 0, B.plane_grid(torch.ones(16), torch.arange(16.0)), temperature=-1),
     "temperature"),
    (lambda m: B.learn_unit_mask(m, PROMPT, 0, steps=0), "steps"),
    (lambda m: B.grow_rrt(m, PROMPT, 0, torch.tensor([40]), radius=1.0), "kept"),
    (lambda m: B.grow_rrt(m, PROMPT, 0, torch.tensor([1]), radius=0.0), "radius"),
    (lambda m: B.grow_rrt(m, PROMPT, 0, torch.tensor([1]), radius=1.0, basis=torch.ones(2, 16)), "basis"),
    (lambda m: B.ball_samples(torch.zeros(4), 1.0, 0), "n"),
    (lambda m: B.compare_tree_ball(m, PROMPT, 0, {}), "sets"),
])
def test_bad_input(call, match):
    model = tiny_gpt()
    with pytest.raises((TypeError, ValueError), match=match):
        call(model)
