"""Tests for tinyformer.pretrained: GPT-2's weights in our GPT, proven against Hugging Face `transformers`.

No download: a small random `GPT2LMHeadModel` is saved with `save_pretrained` (the layout of the
published files) and loaded into our `GPT`; logits and greedy generation must match theirs. Its
biases and LayerNorm parameters are randomised too, so a wrongly mapped bias or norm cannot hide
behind GPT-2's initialisation (zeros and ones). The download helper runs against a local HTTP
server on 127.0.0.1 that honours Range requests (and one that does not).
"""

import hashlib
import http.server
import importlib.util
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.activations import NewGELUActivation

from tinyformer.layers import ACTIVATIONS, gelu_tanh
from tinyformer.model import GPT, GPT2_SIZES, GPTConfig
from tinyformer.pretrained import GPT2_PINNED, GPT2_REPOS, download_gpt2, download_resumable, gpt2_name_map, load_gpt2
from tinyformer.sampling import generate

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=64)


def tiny_hf(seed: int = 0, **overrides) -> GPT2LMHeadModel:
    """A random GPT-2 of TINY's shape, every parameter (biases, norms) moved off its initial value."""
    torch.manual_seed(seed)
    config = GPT2Config(**{**TINY, **overrides}, bos_token_id=0, eos_token_id=None, pad_token_id=0,
                        attn_implementation="eager")
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (on a busy 2-core machine, 2 threads made a step 100x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory):
    """(their model, the directory save_pretrained wrote: config.json + model.safetensors)."""
    model = tiny_hf()
    directory = tmp_path_factory.mktemp("tiny_gpt2")
    model.save_pretrained(directory, safe_serialization=True)
    return model, directory


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


# ----------------------------------------------------------------------------- against transformers


def test_logits_match_transformers_float32(hf_dir):
    ref, directory = hf_dir
    model, config = load_gpt2(directory)
    assert config == GPTConfig(vocab_size=100, block_size=64, d_model=32, n_heads=2, n_layers=2, d_ff=128,
                               dropout=0.0, activation="gelu_tanh", tie_embeddings=True)
    assert not model.training and model.lm_head.weight is model.tok_embed.weight
    torch.manual_seed(1)
    idx = torch.randint(0, 100, (3, 64))  # the whole context
    with torch.no_grad():
        ours, theirs = model(idx), ref(idx).logits  # (B, T, V)
    assert theirs.abs().max() > 1.0  # logits big enough for a mapping error to show
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    print(f"float32 max |logit difference| = {max_diff(ours, theirs):.2e}")


def test_logits_match_transformers_float64(hf_dir, tmp_path):
    ref, directory = hf_dir
    model, _ = load_gpt2(directory)
    ref64 = GPT2LMHeadModel.from_pretrained(directory, attn_implementation="eager").eval().double()
    model = model.double()
    torch.manual_seed(2)
    idx = torch.randint(0, 100, (2, 40))
    with torch.no_grad():
        ours, theirs = model(idx), ref64(idx).logits
    assert ours.dtype == theirs.dtype == torch.float64
    torch.testing.assert_close(ours, theirs, atol=1e-12, rtol=0)  # the same function, to float64 rounding
    print(f"float64 max |logit difference| = {max_diff(ours, theirs):.2e}")


def test_exact_gelu_would_not_match(hf_dir):
    """The control: GPT-2's tanh-GELU matters at 1e-5 here, so the match above is not loose enough to hide it."""
    ref, directory = hf_dir
    model, config = load_gpt2(directory)
    for block in model.blocks:
        block.ffn.act = F.gelu  # exact GELU instead of GPT-2's approximation
    idx = torch.arange(64).reshape(1, 64) % 100
    with torch.no_grad():
        assert max_diff(model(idx), ref(idx).logits) > 1e-4


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_matches_transformers(hf_dir, use_cache):
    ref, directory = hf_dir
    model, _ = load_gpt2(directory)
    prompt = torch.tensor([[5, 17, 42, 8], [99, 0, 3, 64]])  # (B, T)
    with torch.no_grad():
        theirs = ref.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=30,
                              do_sample=False, pad_token_id=0)
    ours = generate(model, prompt, max_new_tokens=30, temperature=0, use_cache=use_cache)
    assert theirs.shape == (2, 34)
    assert len(set(theirs[:, 4:].flatten().tolist())) >= 4  # not one token repeated (a random model's habit)
    assert torch.equal(ours, theirs)


def test_presets_have_gpt2_shapes():
    """Each size's GPTConfig.gpt2 has the parameter count of transformers' GPT-2, and every tensor maps by shape."""
    published = {"small": 124_439_808, "medium": 354_823_168, "large": 774_030_080, "xl": 1_557_611_200}
    for size, (n_layer, n_head, n_embd) in GPT2_SIZES.items():
        config = GPTConfig.gpt2(size)
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            ours = GPT(config)
            theirs = GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_head=n_head, n_embd=n_embd))
        n_ours = sum(p.numel() for p in ours.parameters())  # parameters() counts the tied matrix once
        assert n_ours == theirs.num_parameters() == published[size], size
        our_params = dict(ours.named_parameters())
        their_params = {k.removeprefix("transformer."): v for k, v in theirs.named_parameters()}
        assert set(gpt2_name_map(config)) == set(their_params)
        for name, (mine, transposed) in gpt2_name_map(config).items():
            shape = our_params[mine].shape
            assert their_params[name].shape == (shape[::-1] if transposed else shape), name
    with pytest.raises(ValueError, match="size='tiny'"):
        GPTConfig.gpt2("tiny")


def test_gelu_tanh_is_gpt2s_gelu():
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64)
    formula = 0.5 * x * (1 + torch.tanh((2 / torch.pi) ** 0.5 * (x + 0.044715 * x**3)))
    torch.testing.assert_close(gelu_tanh(x), formula)
    torch.testing.assert_close(ACTIVATIONS["gelu_tanh"](x), NewGELUActivation()(x))
    assert max_diff(gelu_tanh(x), F.gelu(x)) > 1e-4  # not the exact GELU


def test_new_option_keeps_defaults():
    """Adding gelu_tanh changed nothing by default: GPTConfig's fields and a default GPT's state_dict keys."""
    assert GPTConfig(vocab_size=10).activation == "gelu"
    assert [f for f in GPTConfig.__dataclass_fields__] == ["vocab_size", "block_size", "d_model", "n_heads", "n_layers",
                                                           "d_ff", "dropout", "activation", "tie_embeddings",
                                                           "attention", "attention_window"]
    assert (GPTConfig(vocab_size=10).attention, GPTConfig(vocab_size=10).attention_window) == ("full", None)
    keys = ["tok_embed.weight", "pos_embed.weight", "blocks.0.self_attn.in_proj_weight", "blocks.0.self_attn.in_proj_bias",
            "blocks.0.self_attn.out_proj.weight", "blocks.0.self_attn.out_proj.bias", "blocks.0.ffn.linear1.weight",
            "blocks.0.ffn.linear1.bias", "blocks.0.ffn.linear2.weight", "blocks.0.ffn.linear2.bias", "blocks.0.norm1.weight",
            "blocks.0.norm1.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias", "norm.weight", "norm.bias", "lm_head.weight"]
    for activation in ("gelu", "gelu_tanh"):
        config = GPTConfig(vocab_size=10, d_model=8, n_heads=2, n_layers=1, d_ff=16, activation=activation)
        assert list(GPT(config).state_dict()) == keys


# ----------------------------------------------------------------------------- other layouts of the file


def test_loads_the_published_layout(hf_dir, tmp_path):
    """The file on huggingface.co: no "transformer." prefix, each layer's causal-mask buffer, lm_head.weight stored."""
    ref, directory = hf_dir
    tensors = {k.removeprefix("transformer."): v for k, v in load_file(directory / "model.safetensors").items()}
    for i in range(2):
        tensors[f"h.{i}.attn.bias"] = torch.ones(1, 1, 64, 64).tril()
    tensors["lm_head.weight"] = tensors["wte.weight"].clone()
    save_file(tensors, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    model, _ = load_gpt2(tmp_path)
    idx = torch.arange(20).reshape(2, 10)
    with torch.no_grad():
        torch.testing.assert_close(model(idx), ref(idx).logits, atol=1e-5, rtol=0)


def test_untied_output_layer(tmp_path):
    ref = tiny_hf(seed=3, tie_word_embeddings=False)
    assert ref.lm_head.weight is not ref.transformer.wte.weight
    ref.save_pretrained(tmp_path, safe_serialization=True)
    model, config = load_gpt2(tmp_path)
    assert not config.tie_embeddings and model.lm_head.weight is not model.tok_embed.weight
    idx = torch.arange(30).reshape(1, 30)
    with torch.no_grad():
        torch.testing.assert_close(model(idx), ref(idx).logits, atol=1e-5, rtol=0)


def test_half_precision_file_loads_as_float32(hf_dir, tmp_path):
    ref, directory = hf_dir
    tensors = {k: v.to(torch.bfloat16) for k, v in load_file(directory / "model.safetensors").items()}
    save_file(tensors, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    model, _ = load_gpt2(tmp_path)
    assert model.tok_embed.weight.dtype == torch.float32
    torch.testing.assert_close(model.tok_embed.weight, tensors["transformer.wte.weight"].float())


# ----------------------------------------------------------------------------- clear errors


def copy_with(directory: Path, dest: Path, config: dict | None = None, tensors=None) -> Path:
    """A copy of the saved model with config.json keys changed and/or the tensors replaced by tensors(dict)."""
    dest.mkdir(exist_ok=True)
    cfg = json.loads((directory / "config.json").read_text())
    cfg.update(config or {})
    (dest / "config.json").write_text(json.dumps(cfg))
    stored = load_file(directory / "model.safetensors")
    save_file(tensors(stored) if tensors else stored, dest / "model.safetensors")
    return dest


def test_missing_directory_and_files(hf_dir, tmp_path):
    _, directory = hf_dir
    with pytest.raises(ValueError, match="not a directory"):
        load_gpt2(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"config\.json is missing"):
        load_gpt2(tmp_path)
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    with pytest.raises(ValueError, match=r"model\.safetensors is missing.*download_gpt2"):
        load_gpt2(tmp_path)


@pytest.mark.parametrize("change, match", [
    ({"model_type": "llama"}, r"config\.json: model_type='llama', expected 'gpt2'"),
    ({"activation_function": "swish"}, r"config\.json: activation_function='swish' is not supported"),
    ({"layer_norm_epsilon": 1e-6}, r"config\.json: layer_norm_epsilon=1e-06"),
    ({"scale_attn_by_inverse_layer_idx": True}, r"config\.json: scale_attn_by_inverse_layer_idx=True"),
    ({"n_layer": 0}, r"config\.json: n_layer=0 must be a positive int"),
    ({"n_head": 5}, r"config\.json: d_model=32 is not divisible by n_heads=5"),
])
def test_config_that_is_not_gpt2s(hf_dir, tmp_path, change, match):
    _, directory = hf_dir
    with pytest.raises(ValueError, match=match):
        load_gpt2(copy_with(directory, tmp_path / "m", config=change))


def test_config_not_json(hf_dir, tmp_path):
    _, directory = hf_dir
    bad = copy_with(directory, tmp_path / "m")
    (bad / "config.json").write_text("n_layer = 2")
    with pytest.raises(ValueError, match=r"config\.json is not a JSON file"):
        load_gpt2(bad)


def test_missing_unexpected_and_misshapen_tensors(hf_dir, tmp_path):
    _, directory = hf_dir
    name = "transformer.h.1.mlp.c_fc.weight"
    drop = lambda t: {k: v for k, v in t.items() if k != name}  # noqa: E731
    with pytest.raises(ValueError, match=r"model\.safetensors lacks 1 tensor.*h\.1\.mlp\.c_fc\.weight"):
        load_gpt2(copy_with(directory, tmp_path / "a", tensors=drop))
    with pytest.raises(ValueError, match=r"model\.safetensors holds 1 unexpected tensor.*transformer\.h\.2\.ln_1\.weight"):
        load_gpt2(copy_with(directory, tmp_path / "b", tensors=lambda t: {**t, "transformer.h.2.ln_1.weight": torch.ones(32)}))
    transposed = lambda t: {**t, name: t[name].t().contiguous()}  # noqa: E731  an (out, in) matrix where (in, out) belongs
    with pytest.raises(ValueError, match=rf"model\.safetensors: {re.escape(name)} has shape \(128, 32\), expected \(32, 128\)"):
        load_gpt2(copy_with(directory, tmp_path / "c", tensors=transposed))
    as_int = lambda t: {**t, name: t[name].to(torch.int32)}  # noqa: E731
    with pytest.raises(ValueError, match=rf"{re.escape(name)} has dtype I32"):
        load_gpt2(copy_with(directory, tmp_path / "d", tensors=as_int))
    other_head = lambda t: {**t, "lm_head.weight": torch.zeros(100, 32)}  # noqa: E731
    with pytest.raises(ValueError, match=r"lm_head\.weight differs from transformer\.wte\.weight.*tie_word_embeddings"):
        load_gpt2(copy_with(directory, tmp_path / "e", tensors=other_head))


def test_not_a_safetensors_file(hf_dir, tmp_path):
    _, directory = hf_dir
    bad = copy_with(directory, tmp_path / "m")
    (bad / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match=r"model\.safetensors is not a readable safetensors file"):
        load_gpt2(bad)


# ----------------------------------------------------------------------------- the download, on a local server


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves `files` (path -> bytes); honours `Range: bytes=N-` unless honour_range is False;
    with `cut_after` set, the next response sends that many body bytes and drops the connection."""

    files: dict[str, bytes] = {}
    requests: list[tuple[str, str | None]] = []
    honour_range = True
    cut_after: int | None = None

    def do_GET(self):  # noqa: N802 (http.server API)
        asked = self.headers.get("Range")
        type(self).requests.append((self.path, asked))
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = int(re.fullmatch(r"bytes=(\d+)-", asked)[1]) if asked and self.honour_range else 0
        if start >= len(data) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if type(self).cut_after is not None:
            body, type(self).cut_after = body[:type(self).cut_after], None  # an interrupted transfer
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    """A Range-capable HTTP server on 127.0.0.1 (a free port); yields (base_url, handler class)."""
    handler = type("Handler", (_RangeHandler,), {"files": {}, "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serve_tiny_gpt2(handler, directory: Path, size: str = "small", revision: str = "main") -> dict[str, str]:
    """Put the saved tiny model where download_gpt2 looks for `size`; return its files' digests."""
    digests = {}
    for name in ("config.json", "model.safetensors"):
        data = (directory / name).read_bytes()
        handler.files[f"/{GPT2_REPOS[size]}/resolve/{revision}/{name}"] = data
        digests[name] = sha(data)
    return digests


def test_download_gpt2_with_good_digests_then_loads(hf_dir, server, tmp_path):
    ref, directory = hf_dir
    url, handler = server
    digests = serve_tiny_gpt2(handler, directory, "medium")
    out = download_gpt2("medium", tmp_path / "gpt2", sha256=digests, endpoint=url, progress=False)
    assert out == tmp_path / "gpt2"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]  # no .part left
    model, _ = load_gpt2(out)
    idx = torch.arange(10).reshape(1, 10)
    with torch.no_grad():
        torch.testing.assert_close(model(idx), ref(idx).logits, atol=1e-5, rtol=0)
    n = len(handler.requests)
    download_gpt2("medium", out, sha256=digests, endpoint=url, progress=False)  # already there: no request
    assert len(handler.requests) == n == 2


def test_download_gpt2_uses_the_pinned_revision_and_digests(server, tmp_path):
    """small is pinned: the URL names the pinned commit, and a file that is not the published one is refused."""
    url, handler = server
    pinned = GPT2_PINNED["small"]
    handler.files[f"/openai-community/gpt2/resolve/{pinned['revision']}/config.json"] = b"{}"
    with pytest.raises(ValueError, match=f"SHA-256 mismatch, expected {pinned['sha256']['config.json']}"):
        download_gpt2("small", tmp_path, endpoint=url, progress=False)
    assert handler.requests == [(f"/openai-community/gpt2/resolve/{pinned['revision']}/config.json", None)]
    assert list(tmp_path.iterdir()) == []  # nothing left, not even a .part


def test_download_gpt2_bad_digest_leaves_nothing(hf_dir, server, tmp_path):
    _, directory = hf_dir
    url, handler = server
    digests = serve_tiny_gpt2(handler, directory)
    wrong = {**digests, "model.safetensors": "0" * 64}
    with pytest.raises(ValueError, match=r"model\.safetensors: SHA-256 mismatch, expected 0{64}, got " + digests["model.safetensors"]):
        download_gpt2("small", tmp_path, sha256=wrong, endpoint=url, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # the good file stays; no model, no .part


def test_interrupted_download_resumes_with_range(server, tmp_path):
    url, handler = server
    data = bytes(range(256)) * 1000  # 256,000 bytes
    handler.files["/f.bin"] = data
    handler.cut_after = 100_000
    dest = tmp_path / "f.bin"
    with pytest.raises(ConnectionError, match=r"closed after 100,000 of 256,000 bytes; call again to resume"):
        download_resumable(f"{url}/f.bin", dest, sha(data), progress=False)
    part = tmp_path / "f.bin.part"
    assert not dest.exists() and part.read_bytes() == data[:100_000]  # what came is kept
    assert download_resumable(f"{url}/f.bin", dest, sha(data), progress=False) == dest
    assert dest.read_bytes() == data and not part.exists()
    assert handler.requests == [("/f.bin", None), ("/f.bin", "bytes=100000-")]  # only the rest was asked for


def test_resume_from_a_server_that_ignores_range(server, tmp_path):
    url, handler = server
    handler.honour_range = False
    data = b"GPT-2 " * 5000
    handler.files["/f.bin"] = data
    (tmp_path / "f.bin.part").write_bytes(data[:1234])
    download_resumable(f"{url}/f.bin", tmp_path / "f.bin", sha(data), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == data  # the 200 answer was written from the start, not appended


def test_complete_part_and_stale_part(server, tmp_path):
    url, handler = server
    data = b"weights" * 100
    handler.files["/f.bin"] = data
    (tmp_path / "f.bin.part").write_bytes(data)  # complete but never renamed: the server answers 416
    download_resumable(f"{url}/f.bin", tmp_path / "f.bin", sha(data), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == data
    (tmp_path / "g.bin.part").write_bytes(b"something else entirely")  # a stale part of another file
    handler.files["/g.bin"] = data
    download_resumable(f"{url}/g.bin", tmp_path / "g.bin", sha(data), progress=False)
    assert (tmp_path / "g.bin").read_bytes() == data  # the digest failed once, so it was fetched afresh
    assert handler.requests[-2:] == [("/g.bin", "bytes=23-"), ("/g.bin", None)]


def test_unverified_download_only_when_asked(hf_dir, server, tmp_path, capsys):
    _, directory = hf_dir
    url, handler = server
    digests = serve_tiny_gpt2(handler, directory, "xl")
    with pytest.raises(ValueError, match=r"sha256: no digests are pinned for GPT-2 xl.*sha256=None"):
        download_gpt2("xl", tmp_path, endpoint=url, progress=False)
    assert handler.requests == []
    download_gpt2("xl", tmp_path, sha256=None, endpoint=url, progress=False)
    printed = capsys.readouterr().out
    assert f"SHA-256 {digests['model.safetensors']} (not verified" in printed
    assert f"SHA-256 {digests['config.json']} (not verified" in printed


def test_download_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="size='huge'"):
        download_gpt2("huge", tmp_path)
    with pytest.raises(ValueError, match="sha256 must map exactly"):
        download_gpt2("medium", tmp_path, sha256={"model.safetensors": "0" * 64})
    with pytest.raises(ValueError, match="must be 64 hexadecimal"):
        download_gpt2("medium", tmp_path, sha256={"model.safetensors": "abc", "config.json": "0" * 64})
    with pytest.raises(ValueError, match="endpoint="):
        download_gpt2("small", tmp_path, endpoint="ftp://example.org")
    with pytest.raises(ValueError, match="revision="):
        download_gpt2("small", tmp_path, revision="../../etc")
    with pytest.raises(ValueError, match="url="):
        download_resumable("file:///etc/passwd", tmp_path / "x", "0" * 64)


# ----------------------------------------------------------------------------- the demo script


DEMO = ROOT / "scripts" / "gpt2_demo.py"


@pytest.fixture(scope="module")
def demo():
    """scripts/gpt2_demo.py as a module, to call its main(argv) in this process."""
    spec = importlib.util.spec_from_file_location("gpt2_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_runs_offline_on_a_stand_in(tmp_path, demo, capsys):
    """scripts/gpt2_demo.py without weights (or the rank file): a random GPT-2-shaped model, seeded, and says so."""
    args = ["--max-new-tokens", "8", "--rank-file", str(tmp_path / "absent.tiktoken")]
    done = subprocess.run([sys.executable, str(DEMO), *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "a stand-in with random weights" in out and "byte-level tokenizer (256 ids) stands in" in out
    assert "top 5 next tokens:" in out and len(re.findall(r"^ +\d+\.\d+% +\d+ ", out, re.M)) == 5
    assert "greedy (temperature 0)" in out and "top-k 40" in out and "top-p 0.9" in out
    demo.main(args)
    assert capsys.readouterr().out == out  # deterministic: the same text again, here in-process


def test_demo_runs_a_gpt2_directory(tmp_path, demo, capsys):
    """The same script given a directory: a random GPT-2 with GPT-2's vocabulary, saved by transformers."""
    rank_file = ROOT / "data" / "generated" / "gpt2_rank_file" / "gpt2.tiktoken"
    if not rank_file.is_file():
        pytest.skip(f"{rank_file} is absent; `pytest tests/test_gpt2_rank_file.py` fetches it once")
    tiny_hf(seed=4, vocab_size=50257).save_pretrained(tmp_path, safe_serialization=True)
    demo.main([str(tmp_path), "--prompt", "Hello, world", "--max-new-tokens", "8", "--rank-file", str(rank_file)])
    out = capsys.readouterr().out
    assert f"model: GPT-2 from {tmp_path}: 2 layers, 2 heads, d_model 32" in out
    assert "prompt: 'Hello, world' -> 3 tokens [15496, 11, 995]" in out  # tiktoken's GPT-2 ids
    assert "stand-in" not in out and "top 5 next tokens:" in out
