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
15-minute budget. So in a whole-suite run the root conftest.py starts these checks in the background
at the start, as two chains of nbval processes (one per batch of notebooks), while the unit tests
run; this test joins each notebook's check just before the browser check of that notebook, and
leaves the models its chain had trained by then in data/generated/ where none are saved yet: the
browser check then loads them. nbval in the main run skips these notebooks when this test is part of it: their stored
outputs are compared here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from pathlib import Path

import pytest

OTHER_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}
# Every notebook that trains a model, in two chains that run side by side (one torch thread each).
# A chain is a list of batches; each batch is one nbval process, started when the one before it ends
# (and the notebooks in NEEDS have ended), in the chain's own model folder. Measured alone on one core
# with these kernels: 07 ~280 s, 06 ~90 s, 04 ~25 s, 02 and 05 ~12 s; 08 ~325 s (its GPT's 1000
# steps; ~100 s more when it must train the stand-in translator), 09 ~65 s (its facts GPT and sparse
# autoencoder). Small batches hand their models on as they end, so the browser check of a notebook
# waits for its own batch only: 02, 04 and 05 are ready before 06, and 09 follows 08 (it looks
# inside 08's GPT, in the same folder) while the other chain trains 06.
GROUPS = [
    [["notebooks/07-translation.ipynb"],
     ["notebooks/02-embeddings-and-positions.ipynb", "notebooks/04-masking.ipynb",
      "notebooks/05-multi-head-attention.ipynb"],
     ["notebooks/06-ffn-residual-layernorm.ipynb"]],
    [["notebooks/08-sampling.ipynb"], ["notebooks/09-looking-inside.ipynb"]],
]
SECONDS = {"07": 280, "06": 90, "02": 12, "04": 25, "05": 12, "08": 325, "09": 65}
NOTEBOOKS = [nb for chain in GROUPS for batch in chain for nb in batch]
# Files a notebook hands to the other chain when it ends, which the notebooks there load as a
# learner's would: 07's translator (08 and 09 use it; 07 is usually done before 08 needs it, after
# training its GPT; when it is not, 08 trains its documented stand-in, slower but checked by the same
# asserts).
HANDED_ON = {"notebooks/07-translation.ipynb": ["translator-ko-en.pt"]}
# Notebooks that start only after these have ended: 09 loads 08's GPT and 07's translator.
NEEDS = {"notebooks/09-looking-inside.ipynb": ["notebooks/07-translation.ipynb", "notebooks/08-sampling.ipynb"]}


def batch_of(notebook: str) -> list[str]:
    return next(batch for chain in GROUPS for batch in chain if notebook in batch)


def expected_finish(notebook: str) -> int:
    """Seconds of training before the batch of `notebook` ends in its chain (to join them in that order)."""
    chain = next(c for c in GROUPS if batch_of(notebook) in c)
    batches = chain[: chain.index(batch_of(notebook)) + 1]
    return sum(SECONDS[Path(nb).name[:2]] for batch in batches for nb in batch)


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
    """The chains' nbval processes, one batch at a time, in background threads.

    After each batch its chain's model folder is snapshotted (hard links: later writes, which are
    atomic replacements, do not change it), so `wait(nb)` can hand over exactly what the chain had
    trained when the batch of `nb` ended, while the chain goes on with the next batch.
    """

    def __init__(self, repo_root: Path, workdir: Path, notebooks: list[str] | None = None) -> None:
        wanted = set(NOTEBOOKS if notebooks is None else notebooks)
        wanted |= {need for nb in wanted for need in NEEDS.get(nb, [])}
        self.repo_root, self.workdir = repo_root, workdir
        self.results: dict[str, tuple[int, str, float, Path]] = {}  # nb -> (exit code, log, end time, snapshot)
        self.done = {nb: threading.Event() for nb in NOTEBOOKS}
        self.procs: dict[int, subprocess.Popen] = {}
        self.stopping = False
        self.covered: set[str] = set()  # the notebooks these runs check
        self.threads = []
        for i, chain in enumerate(GROUPS):
            last = max((k for k, batch in enumerate(chain) if wanted & set(batch)), default=-1)
            if last >= 0:  # run the chain up to its last wanted batch (what comes before may feed it)
                self.covered |= {nb for batch in chain[: last + 1] for nb in batch}
                thread = threading.Thread(target=self._run_chain, args=(i, chain[: last + 1]), daemon=True)
                thread.start()
                self.threads.append(thread)

    def folder(self, i: int) -> Path:
        return self.workdir / f"generated{i}"

    def _run_chain(self, i: int, chain: list[list[str]]) -> None:
        env = clean_env(**OTHER_CPU, TINYFORMER_GENERATED_DIR=str(self.folder(i)))
        for batch in chain:
            code, text = -1, "not run: the session stopped"
            for need in (need for nb in batch for need in NEEDS.get(nb, [])):
                while not self.stopping and not self.done[need].wait(timeout=1):
                    pass
            if not self.stopping:
                cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *batch]
                with tempfile.TemporaryFile("w+") as log:
                    self.procs[i] = subprocess.Popen(cmd, cwd=self.repo_root, env=env, stdout=log,
                                                     stderr=subprocess.STDOUT)
                    code = self.procs[i].wait()
                    log.seek(0)
                    text = log.read()
            snapshot = self.workdir / "snapshots" / Path(batch[0]).stem
            if self.folder(i).is_dir():
                shutil.copytree(self.folder(i), snapshot, copy_function=os.link, dirs_exist_ok=True)
            names = [name for nb in batch for name in HANDED_ON.get(nb, [])] if code == 0 else []
            for name in names:
                for j in range(len(GROUPS)):
                    if j != i and (self.folder(i) / name).is_file():
                        self.folder(j).mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(self.folder(i) / name, self.folder(j) / (name + ".part"))
                        os.replace(self.folder(j) / (name + ".part"), self.folder(j) / name)
            for nb in batch:
                self.results[nb] = (code, text, time.monotonic(), snapshot)
                self.done[nb].set()

    def wait(self, notebook: str) -> Path:
        """Block until `notebook`'s check has ended; assert it passed; return its chain's snapshot."""
        self.done[notebook].wait()
        code, text, _, snapshot = self.results[notebook]
        assert code == 0, f"nbval with {OTHER_CPU} failed in the batch {batch_of(notebook)}:\n{text[-6000:]}"
        return snapshot

    def stop(self) -> None:
        self.stopping = True  # no chain starts another notebook
        for proc in list(self.procs.values()):
            if proc.poll() is None:  # an interrupted session: no training process left behind
                proc.kill()
                proc.wait()
        for thread in self.threads:
            thread.join(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: Path(nb).stem)
def test_training_notebooks_pass_with_other_kernels(notebook, request, tmp_path, repo_root):
    # In a whole-suite run the root conftest.py started the chains at the beginning, so they train
    # while the unit tests run, and joins each notebook just before the browser check that loads
    # what it trained; run alone, this test runs the notebook's chain up to it itself.
    runs = getattr(request.config, "other_cpu_runs", None)
    own = runs is None or notebook not in runs.covered
    if own:
        runs = OtherCpuRuns(repo_root, tmp_path, [notebook])
    try:
        share_trained_models(runs.wait(notebook))
    finally:
        if own:
            runs.stop()


def share_trained_models(trained: Path) -> None:
    """Copy every file the runs saved into generated_dir(), unless a file of that name is there already."""
    from tinyformer.utils import generated_dir

    if not trained.is_dir():  # the chain had saved nothing yet
        return
    target = generated_dir()
    for source in sorted(p for p in trained.rglob("*") if p.is_file()):
        dest = target / source.relative_to(trained)
        if dest.exists():
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest.with_name(dest.name + ".part"))
        os.replace(dest.with_name(dest.name + ".part"), dest)  # atomic: a reader never sees half a file
