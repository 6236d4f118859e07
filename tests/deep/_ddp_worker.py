"""One rank of the gradient check in test_distributed.py, run as ``python _ddp_worker.py OUT BATCH``.

Joins the process group described by RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT (what torchrun sets),
trains LeNet-5 for one step on the first ``2 * BATCH`` digits, and writes its parameters' gradients and
weights after that step to ``OUT/rank{RANK}.safetensors``.
"""

import sys

import numpy as np
from safetensors.torch import save_file

from visionkit.deep.distributed import init_distributed
from visionkit.deep.estimator import prepare_images
from visionkit.deep.models import create_model
from visionkit.deep.train import TrainConfig, fit
from visionkit.data import load_digits

out, batch = sys.argv[1], int(sys.argv[2])
ctx = init_distributed(device="cpu")
try:
    d = load_digits()
    n = 2 * batch
    x = prepare_images(d.images[:n], 32)
    model = create_model("lenet5", num_classes=10, in_chans=1, img_size=32, seed=0)
    cfg = TrainConfig(epochs=1, batch_size=batch, optimizer="sgd", lr=0.1, augment="none", amp=False, seed=3)
    fit(model, x, np.asarray(d.labels[:n]), cfg, distributed=ctx)
    tensors = {f"grad.{k}": p.grad for k, p in model.named_parameters()} | {f"weight.{k}": p.detach() for k, p in model.named_parameters()}
    save_file({k: v.contiguous() for k, v in tensors.items()}, f"{out}/rank{ctx.rank}.safetensors")
finally:
    ctx.close()
