"""Smoke-test training script: proves the pipeline end to end on a first deploy, in seconds.

Run by the SageMaker Training Toolkit in a Deep Learning Container: it lists what each input
channel holds, reports a decreasing ``loss=`` (the blueprint's metric definitions read it from the
log), and writes a small model to ``SM_MODEL_DIR``, which SageMaker uploads as model.tar.gz. Replace
it with your own script (``source_dir`` and ``entry_point``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args, _ = parser.parse_known_args()
    channels = json.loads(os.environ.get("SM_CHANNELS", "[]"))
    seen = {}
    for channel in channels:
        directory = Path(os.environ.get(f"SM_CHANNEL_{channel.upper()}", f"/opt/ml/input/data/{channel}"))
        files = sorted(p for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else []
        seen[channel] = len(files)
        print(f"channel {channel}: {len(files)} file(s)")
    loss = 1.0
    for epoch in range(1, args.epochs + 1):
        loss /= 2
        print(f"epoch={epoch} loss={loss:.4f}", flush=True)
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.json").write_text(json.dumps({"epochs": args.epochs, "loss": loss, "files": seen}))


if __name__ == "__main__":
    main()
