"""One rank of :func:`visionkit.deep.distributed.fit_torchrun` (started by ``torchrun``; not a public entry).

``python -m torch.distributed.run --standalone --nproc-per-node N -m visionkit.deep._torchrun_fit FOLDER``:
every rank reads the job from ``FOLDER`` (estimator parameters, images, labels), trains its shard in
``DistributedDataParallel`` and rank 0 writes ``FOLDER/model`` and ``FOLDER/fit.json``.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str]) -> int:
    from .._validate import VisionkitError

    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(f"usage: torchrun ... -m visionkit.deep._torchrun_fit FOLDER (a folder written by fit_torchrun), got {argv!r}")
        return 2
    folder = Path(argv[0])
    try:
        return _run(folder)
    except BaseException as err:  # the driver shows the first rank's reason, not the launcher's
        import os
        import traceback

        text = f"{err}" if isinstance(err, VisionkitError) else traceback.format_exc()
        (folder / f"error-rank{os.environ.get('RANK', '0')}.txt").write_text(text)
        raise


def _run(folder: Path) -> int:
    from .._atomic import atomic_write
    from .distributed import _SAY, _log_line, _read_images, init_distributed
    from .estimator import DeepClassifier

    job = json.loads((folder / "job.json").read_text())
    est = DeepClassifier(**job["params"])
    ctx = init_distributed(device=est.device)
    try:
        world, is_main = (1, True) if ctx is None else (ctx.world_size, ctx.is_main)
        images = _read_images(folder)
        labels = np.load(folder / "labels.npy", allow_pickle=False)
        # the recipe of one process, batch by batch: the global batch stays the recipe's, each rank takes its share
        opts = est._options(images)
        n_train = len(labels) - (math.ceil(est.validation_fraction * len(labels)) if est.validation_fraction else 0)
        config = est._train_config(n_train, opts)
        per_rank = max(1, config.batch_size // world)
        options = dict(est.train_options or {}, batch_size=per_rank, epochs=int(config.epochs))
        est.set_params(**dict(opts, photos=None, min_steps=None, train_options=options, progress=False))

        def on_epoch(record: dict) -> None:
            if is_main:
                print(_SAY + f"rank 0 of {world}: " + _log_line(record, int(config.epochs)), flush=True)

        est.fit(images, labels, class_names=job["class_names"], callback=on_epoch, distributed=ctx)
        if is_main:
            est.save(folder / "model")
            train_config = dict(est.train_config_, batch_size=per_rank * world)
            extra = dict(world_size_=world, train_config_=train_config, train_time_s_=est.train_time_s_,
                         train_steps_=est.train_steps_, model_name_=est.model_name_,
                         pretrained_on_=est.pretrained_on_)
            if hasattr(est, "probe_train_accuracy_"):
                extra["probe_train_accuracy_"] = est.probe_train_accuracy_
            atomic_write(folder / "fit.json", json.dumps(extra))
        if ctx is not None:
            ctx.barrier()
        return 0
    finally:
        if ctx is not None:
            ctx.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
