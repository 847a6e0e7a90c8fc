#!/usr/bin/env python3
"""Rewrites the "gemm" records of measurements-h100-synthetic.json from known parameters.

Truth (calibrate/fit/fit.h's GEMM model), H100 SXM: 132 SMs, 989.4 TFLOP/s dense BF16;
max efficiency 0.70, 128 x 256 output tiles, k_half 200, a floor of 5 us per kernel.
t = floor + 2mnk / (peak x 0.70 x wave x k / (k + 200)), three samples per record with up to
0.5 % deterministic noise (splitmix64, seed 2026). Run from this folder.
"""
import json
import math

PEAK, SMS, EFF, TILE_M, TILE_N, K_HALF, FLOOR = 989.4e12, 132, 0.70, 128, 256, 200.0, 5e-6
SHAPES = [(8192, 8192), (4096, 4096), (1024, 3072), (2560, 1280), (384, 8192), (640, 1536),
          (896, 7168), (8192, 640), (256, 256), (1920, 1792), (16384, 1024), (3200, 2304),
          (128, 28672), (4096, 1152), (768, 768), (1280, 5120), (16384, 8192), (2176, 896)]
KS = [4096, 512, 1024, 2048, 8192, 14336]

state = 2026


def noise():
    global state
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return 1.0 + 0.005 * (2.0 * (z >> 11) / float(1 << 53) - 1.0)


def wave(m, n):
    tiles = math.ceil(m / TILE_M) * math.ceil(n / TILE_N)
    return tiles / (math.ceil(tiles / SMS) * SMS)


path = "measurements-h100-synthetic.json"
doc = json.load(open(path))
records = []
for i, (m, n) in enumerate(SHAPES):
    k = KS[i % len(KS)]
    t = FLOOR + 2.0 * m * n * k / (PEAK * EFF * wave(m, n) * k / (k + K_HALF))
    records.append({"precision": "bf16", "m": m, "n": n, "k": k, "count": 1,
                    "time_s": [t * noise() for _ in range(3)]})
doc["gemm"] = records
with open(path, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
