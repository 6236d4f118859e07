#!/usr/bin/env bash
# The GPU checks, as one script for a lent GPU machine (see README, Benchmarks). From the repo root:
#   python benchmarks/pack_images.py pack ../shared/datasets/cifar10-jpeg .gpu/cifar10-jpeg.npz   # here, once
#   OUT=out/gpu bash benchmarks/gpu_session.sh                                                     # there
# Measures the torch Sobel/Harris twins on the GPU against a cv2 loop on that machine's CPU, and trains
# airbench94 (3 seeds), ResNet-20 and the ViT on the full CIFAR-10 (JPEG q75) on the GPU, each
# against a wall-clock budget. Everything it prints goes to $OUT/session.log; the JSON records to $OUT.
set -uo pipefail
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
exec > >(tee "$OUT/session.log") 2>&1
export PYTHONUNBUFFERED=1 PYTHONPATH=. VISIONKIT_DATA=${VISIONKIT_DATA:-/tmp/visionkit-data}
PY=${PY:-python3}
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
$PY -c "import torch, torchvision, cv2, sklearn; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cv2', cv2.__version__, 'sklearn', sklearn.__version__, 'cuda', torch.cuda.is_available())"
if [ ! -d "$VISIONKIT_DATA/cifar10-jpeg" ]; then
  $PY benchmarks/pack_images.py unpack .gpu/cifar10-jpeg.npz "$VISIONKIT_DATA/cifar10-jpeg" || exit 1
fi
$PY benchmarks/bench_operators.py --out "$OUT/operators_1024.json"
$PY benchmarks/bench_operators.py --batch 16384 --out "$OUT/operators_16384.json"
$PY benchmarks/bench_deep.py accuracy --dataset cifar10 --model airbench94 --epochs 10 --seeds 0 1 2 --threads 8 \
    --time-budget ${AIRBENCH_BUDGET:-30} --out "$OUT"
$PY benchmarks/bench_deep.py accuracy --dataset cifar10 --model resnet20 --epochs 30 --threads 8 \
    --time-budget ${RESNET_BUDGET:-75} --out "$OUT"
$PY benchmarks/bench_deep.py accuracy --dataset cifar10 --model vit_cifar --epochs 40 --threads 8 \
    --time-budget ${VIT_BUDGET:-90} --out "$OUT"
date -u
