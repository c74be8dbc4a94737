"""The model benchmark runs end to end and ends with the line the README quotes (tiny sizes: no timing claims)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_model_benchmark_prints_both_dropout_settings_and_the_ratio_last():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "model.py"), "--steps", "1", "--lengths", "8",
                          "--threads", "1"], capture_output=True, text=True, check=True, timeout=300).stdout
    lines = out.strip().splitlines()
    assert any(line.startswith("dropout 0.1  length    8  speed ours / torch") for line in lines), out
    assert any(line.startswith("dropout 0.0  length    8  speed ours / torch") for line in lines), out
    assert re.fullmatch(r"train_speed_vs_torch_transformer: \d+\.\d{3}", lines[-1]), lines[-1]
