#!/usr/bin/env bash
# GPU checks and figures, one short run: training throughput with bf16 autocast, a torchrun (NCCL)
# train + resume of `tiny`, a few hundred real-data steps of `cpu_small`, and the shipped model on
# CUDA vs CPU. Usage: benchmarks/gpu_check.sh DATA_DIR OUT_DIR
# (DATA_DIR: a synthetic corpus from recipes/data/synthetic_speech.py; any subset of it will do.)
set -uo pipefail
data=${1:?DATA_DIR}; out=${2:?OUT_DIR}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
overrides="data.train_manifest=$data/manifest.jsonl data.valid_manifest=$data/manifest_heldout.jsonl device=cuda"

echo "== nvidia-smi"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
echo "== training throughput (bf16 autocast)"
$py benchmarks/bench_train.py --recipes tiny cpu_small speech16k --steps 10 --device cuda

echo "== torchrun --nproc_per_node 1 (NCCL): tiny, 40 steps (GAN from step 20), then resume to 60"
common="$overrides out_dir=$out/tiny loss.mel_only_steps=20 checkpoint_every=20 eval_every=20 log_every=10"
torchrun --standalone --nproc_per_node 1 -m codec train recipes/tiny.yaml $common max_steps=40 || echo "FAILED: tiny train"
torchrun --standalone --nproc_per_node 1 -m codec train recipes/tiny.yaml $common max_steps=60 || echo "FAILED: tiny resume"
ls "$out/tiny/checkpoints"

echo "== cpu_small on real data, 150 s (data loading with 8 workers)"
timeout 150 $py -m codec train recipes/cpu_small.yaml $overrides out_dir=$out/cpu_small data.num_workers=8 \
    max_steps=100000 log_every=50 eval_every=100000 checkpoint_every=100000 loss.mel_only_steps=0
grep -h audio_seconds_per_second "$out/cpu_small/metrics.jsonl" | tail -3

echo "== shipped model: CUDA vs CPU codes, speed"
$py - "$data" <<'EOF'
import sys, time, torch, codec
from pathlib import Path
files = sorted(Path(sys.argv[1]).rglob("*.flac"))[:16]
model = codec.load("codec/pretrained/speechcodec-16k-50hz")
cpu = [model.tokenize(f).codes for f in files]
model = model.to("cuda")
gpu = [model.tokenize(f).codes.cpu() for f in files]
same = sum(int((a == b).sum()) for a, b in zip(cpu, gpu)) / sum(a.numel() for a in cpu)
print(f"codes equal CUDA vs CPU: {same:.4%} of {sum(a.numel() for a in cpu)}")
wav = torch.randn(8, 1, 16000 * 10) * 0.1
for _ in range(2):
    torch.cuda.synchronize(); t = time.perf_counter(); tokens = model.tokenize(wav.cuda(), 16000)
    torch.cuda.synchronize(); t1 = time.perf_counter(); model.detokenize(tokens); torch.cuda.synchronize(); t2 = time.perf_counter()
print(f"batch 8 x 10 s on {torch.cuda.get_device_name()}: tokenize {80 / (t1 - t):.0f}x real time, "
      f"detokenize {80 / (t2 - t1):.0f}x real time")
EOF
