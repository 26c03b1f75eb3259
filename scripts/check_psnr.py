#!/usr/bin/env python3
"""Recomputes RGB PSNR with numpy on the decoded files a `tessera bench` run kept, and checks
that the lab's figures (results/*.json, per-image records) agree within 0.01 dB.

    python3 scripts/check_psnr.py runs/NAME        (needs numpy and Pillow)

PSNR here is the textbook one: 10·log10(MAX² / MSE), the MSE over every sample of every
channel, MAX = 255 for 8-bit images. Exit status 1 when any pair disagrees or nothing was checked.
"""
import json
import math
import pathlib
import sys

import numpy as np
from PIL import Image

TOLERANCE_DB = 0.01


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def main(run: pathlib.Path) -> int:
    checked, worst, bad = 0, 0.0, []
    for results in sorted((run / "results").glob("*.json")):
        data = json.loads(results.read_text())
        for rec in data.get("images", []):
            dec = run / "decoded" / rec["codec"] / rec["setting"] / f"{rec['image']}.png"
            orig = run / "originals" / f"{rec['image']}.png"
            if not dec.is_file() or not orig.is_file():
                continue
            ours = rec["psnr_rgb"]
            theirs = psnr(np.asarray(Image.open(orig)), np.asarray(Image.open(dec)))
            checked += 1
            if ours is None:
                ok = math.isinf(theirs)
                diff = 0.0
            else:
                diff = abs(ours - theirs)
                ok = diff <= TOLERANCE_DB
            worst = max(worst, diff)
            if not ok:
                bad.append(f"{rec['codec']} {rec['setting']} {rec['image']}: lab {ours} numpy {theirs:.4f}")
    for line in bad:
        print("MISMATCH", line)
    print(f"{checked} decoded files checked, largest difference {worst:.2e} dB, {len(bad)} over {TOLERANCE_DB} dB")
    return 0 if checked and not bad else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(pathlib.Path(sys.argv[1])))
