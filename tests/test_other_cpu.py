"""Stored notebook outputs pass on another CPU: the training notebooks re-run under other float kernels.

PyTorch picks its vectorised kernels (AVX-512, AVX2 or plain C++) when it starts, and they round sums
differently; a few hundred training steps turn that into a slightly different model. A learner's
laptop is "another CPU", so the stored outputs of every notebook that trains must hold there too
(CONTRIBUTING.md, "Stored outputs must pass on any CPU"). This test simulates one:
`ATEN_CPU_CAPABILITY=default` (no vector kernels) and `MKL_ENABLE_INSTRUCTIONS=SSE4_2`, then runs nbval
on the training notebooks in a fresh process, training afresh in a temporary folder (saved models in
data/generated/ are not used). The browser check runs the same notebooks, asserts included, with this
machine's own kernels: two kernel settings in all.

Training the notebooks' models twice (here and in the main run) would cost minutes of the suite's
15-minute budget. So in a whole-suite run the root conftest.py starts these nbval processes in the
background at the start, while the unit tests run; this test joins each group just before the
browser check of the notebooks that load its models, and leaves the models it trained in
data/generated/ where none are saved yet: the browser check then loads them. nbval in the main run
skips these notebooks when this test is part of it: their stored outputs are compared here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

from pathlib import Path

import pytest

OTHER_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}
# Every notebook that trains a model, in two groups that run side by side (one torch thread each,
# so the two cores finish in about half the time). The groups use separate model folders: 08 and 09
# then never find 07's translator and train its documented stand-in, the same way on every run.
# 09 loads 08's GPT, so it follows 08. Measured (CI, 2 cores): 08 ~475 s (its GPT's 1000 steps),
# 07 ~300 s, 09 ~150 s from an empty folder (its facts GPT and sparse autoencoder), 06 ~80 s, the
# rest 10-60 s each.
GROUPS = [
    ["notebooks/07-translation.ipynb", "notebooks/06-ffn-residual-layernorm.ipynb",
     "notebooks/02-embeddings-and-positions.ipynb", "notebooks/04-masking.ipynb",
     "notebooks/05-multi-head-attention.ipynb"],
    ["notebooks/08-sampling.ipynb", "notebooks/09-looking-inside.ipynb"],
]

# A few float results that go through the kernels training uses: matrix product, softmax, layer norm.
PROBE = """
import hashlib, torch
torch.manual_seed(0); torch.set_num_threads(1)
x, w = torch.randn(32, 128), torch.randn(128, 128)
out = torch.cat([x @ w, torch.softmax(x, -1), torch.nn.functional.layer_norm(x, (128,))])
print(torch.backends.cpu.get_cpu_capability(), hashlib.sha256(out.numpy().tobytes()).hexdigest())
"""


def probe(env: dict[str, str]) -> tuple[str, str]:
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    capability, digest = out.stdout.split()
    return capability, digest


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in OTHER_CPU and k != "TINYFORMER_GENERATED_DIR"}
    return env | extra


def test_the_other_cpu_setting_really_changes_float_results():
    """Without this, the notebook test below could pass because the setting did nothing."""
    native = probe(clean_env())
    other = probe(clean_env(**OTHER_CPU))
    assert other[0] == "DEFAULT" != native[0], (native, other)
    assert other[1] != native[1], "the same bits under both settings: the kernels were not switched"


class OtherCpuRuns:
    """The groups' nbval processes, started in the background; `wait(i)` joins group i and reports."""

    def __init__(self, repo_root: Path, workdir: Path, groups: list[int] | None = None) -> None:
        self.workdir = workdir
        self.started = time.monotonic()
        self.seconds: dict[int, float] = {}  # group -> how long its nbval run took (from its own report)
        self.runs = {}
        for i in range(len(GROUPS)) if groups is None else groups:
            env = clean_env(**OTHER_CPU, TINYFORMER_GENERATED_DIR=str(workdir / f"generated{i}"))
            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *GROUPS[i]]
            log = open(workdir / f"group{i}.log", "w+")
            proc = subprocess.Popen(cmd, cwd=repo_root, env=env, stdout=log, stderr=subprocess.STDOUT)
            self.runs[i] = (proc, log)

    def wait(self, group: int) -> None:
        proc, log = self.runs[group]
        try:
            code = proc.wait()
            log.seek(0)
            text = log.read()
            assert code == 0, f"nbval with {OTHER_CPU} failed ({GROUPS[group]}):\n{text[-6000:]}"
            took = re.findall(r" in ([\d.]+)s", text)
            self.seconds[group] = float(took[-1]) if took else time.monotonic() - self.started
        except BaseException:
            self.stop()  # a failed group: no point training the others on
            raise

    def stop(self) -> None:
        for proc, log in self.runs.values():
            if proc.poll() is None:  # the other group when one failed, or an interrupted session
                proc.kill()
                proc.wait()
            log.close()


@pytest.mark.slow
@pytest.mark.parametrize("group", range(len(GROUPS)), ids=lambda i: f"group{i}")
def test_training_notebooks_pass_with_other_kernels(group, request, tmp_path, repo_root):
    # In a whole-suite run the root conftest.py started these runs at the beginning, so they train
    # while the unit tests run, and joins each group just before the browser checks the notebooks
    # that load its models; run alone, this test starts its group itself.
    runs = getattr(request.config, "other_cpu_runs", None)
    if runs is None or group not in runs.runs:
        runs = OtherCpuRuns(repo_root, tmp_path, [group])
    try:
        runs.wait(group)
    finally:
        if runs is not getattr(request.config, "other_cpu_runs", None):
            runs.stop()
    share_trained_models(runs.workdir / f"generated{group}")


def share_trained_models(trained: Path) -> None:
    """Copy every file the runs saved into generated_dir(), unless a file of that name is there already."""
    from tinyformer.utils import generated_dir

    target = generated_dir()
    for source in sorted(p for p in trained.rglob("*") if p.is_file()):
        dest = target / source.relative_to(trained)
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest.with_name(dest.name + ".part"))
        os.replace(dest.with_name(dest.name + ".part"), dest)  # atomic: a reader never sees half a file
