"""Golden values for tessera-metrics from reference implementations.

Makes distorted crops of Kodak images (Pillow JPEG and seeded Gaussian noise), saves each pair
under crates/metrics/tests/golden/, and writes golden.json with:
  - PSNR (numpy), SSIM (scikit-image, Gaussian window, sigma 1.5, population covariance),
  - MS-SSIM (a numpy port of pytorch_msssim's ms_ssim: valid Gaussian filtering, 2x2 average
    pooling with pytorch's padding for odd sides, relu, the five standard weights),
  - PSNR-HVS and PSNR-HVS-M (a numpy port of Ponomarenko's psnrhvsm.m, on BT.601 luma),
  - BD-rate and BD-PSNR (the `bjontegaard` package, method='pchip') on curves from ANCHORS.md.

Run from the repository root:  python3 scripts/golden/make_golden.py
Needs: numpy, scipy, scikit-image, Pillow, bjontegaard (pip).
"""
import io
import json
import os

import bjontegaard as bd
import numpy as np
from PIL import Image
from scipy.fft import dctn
from skimage.metrics import structural_similarity

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "crates", "metrics", "tests", "golden")


def crop(name, box):
    img = Image.open(os.path.join(ROOT, "data", "kodak", name)).convert("RGB")
    return img.crop(box)


def jpeg(img, q):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    return Image.open(io.BytesIO(buf.getvalue())).convert(img.mode)


def noise(img, sigma, seed):
    a = np.asarray(img, dtype=np.float64)
    a = a + np.random.default_rng(seed).normal(0, sigma, a.shape)
    return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), img.mode)


def gaussian_window(size=11, sigma=1.5):
    x = np.arange(size) - size // 2
    g = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def filt_valid(a, g):
    n = len(g)
    h = np.stack([np.convolve(row, g[::-1], mode="valid") for row in a])
    return np.stack([np.convolve(col, g[::-1], mode="valid") for col in h.T]).T


def ssim_cs(x, y, L=255.0):
    g = gaussian_window()
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    mx, my = filt_valid(x, g), filt_valid(y, g)
    vx = filt_valid(x * x, g) - mx * mx
    vy = filt_valid(y * y, g) - my * my
    cov = filt_valid(x * y, g) - mx * my
    cs = (2 * cov + c2) / (vx + vy + c2)
    s = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return s.mean(), cs.mean()


def avg_pool_pytorch(a):
    # torch.nn.functional.avg_pool2d(kernel 2, stride 2, padding=(h%2, w%2)), count_include_pad.
    ph, pw = a.shape[0] % 2, a.shape[1] % 2
    p = np.pad(a, ((ph, ph), (pw, pw)))
    h = (a.shape[0] + 2 * ph - 2) // 2 + 1
    w = (a.shape[1] + 2 * pw - 2) // 2 + 1
    p = p[: 2 * h, : 2 * w]
    return (p[0::2, 0::2] + p[1::2, 0::2] + p[0::2, 1::2] + p[1::2, 1::2]) / 4.0


def ms_ssim(x, y):
    w = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])
    vals = []
    for c in range(x.shape[2]):
        a, b = x[:, :, c], y[:, :, c]
        mcs = []
        for i in range(5):
            s, cs = ssim_cs(a, b)
            if i < 4:
                mcs.append(max(cs, 0.0))
                a, b = avg_pool_pytorch(a), avg_pool_pytorch(b)
        vals.append(np.prod(np.array(mcs) ** w[:4]) * max(s, 0.0) ** w[4])
    return float(np.mean(vals))


CSF = np.array([
    [1.608443, 2.339554, 2.573509, 1.608443, 1.072295, 0.643377, 0.504610, 0.421887],
    [2.144591, 2.144591, 1.838221, 1.354478, 0.989811, 0.443708, 0.428918, 0.467911],
    [1.838221, 1.979622, 1.608443, 1.072295, 0.643377, 0.451493, 0.372972, 0.459555],
    [1.838221, 1.513829, 1.169777, 0.887417, 0.504610, 0.295806, 0.321689, 0.415082],
    [1.429727, 1.169777, 0.695543, 0.459555, 0.378457, 0.236102, 0.249855, 0.334222],
    [1.072295, 0.735288, 0.467911, 0.402111, 0.317717, 0.247453, 0.227744, 0.279729],
    [0.525206, 0.402111, 0.329937, 0.295806, 0.249855, 0.212687, 0.214459, 0.254803],
    [0.357432, 0.279729, 0.270896, 0.262603, 0.229778, 0.257351, 0.249855, 0.259950]])
MASK = np.array([
    [0.390625, 0.826446, 1.000000, 0.390625, 0.173611, 0.062500, 0.038447, 0.026874],
    [0.694444, 0.694444, 0.510204, 0.277008, 0.147929, 0.029727, 0.027778, 0.033058],
    [0.510204, 0.591716, 0.390625, 0.173611, 0.062500, 0.030779, 0.021004, 0.031888],
    [0.510204, 0.346021, 0.206612, 0.118906, 0.038447, 0.013212, 0.015625, 0.026015],
    [0.308642, 0.206612, 0.073046, 0.031888, 0.021626, 0.008417, 0.009426, 0.016866],
    [0.173611, 0.081633, 0.033058, 0.024414, 0.015242, 0.009246, 0.007831, 0.011815],
    [0.041649, 0.024414, 0.016437, 0.013212, 0.009426, 0.006830, 0.006944, 0.009803],
    [0.019290, 0.011815, 0.011080, 0.010412, 0.007972, 0.010000, 0.009426, 0.010203]])


def vari(z):
    return np.var(z, ddof=1) * z.size


def maskeff(z, zdct):
    m = np.sum(zdct ** 2 * MASK) - zdct[0, 0] ** 2 * MASK[0, 0]
    pop = vari(z)
    if pop != 0:
        pop = (vari(z[0:4, 0:4]) + vari(z[0:4, 4:8]) + vari(z[4:8, 4:8]) + vari(z[4:8, 0:4])) / pop
    return np.sqrt(m * pop) / 32


def psnr_hvs_m(a, b):
    s1 = s2 = 0.0
    n = 0
    for y in range(0, a.shape[0] - 7, 8):
        for x in range(0, a.shape[1] - 7, 8):
            A, B = a[y:y + 8, x:x + 8], b[y:y + 8, x:x + 8]
            da, db = dctn(A, norm="ortho"), dctn(B, norm="ortho")
            mask = max(maskeff(A, da), maskeff(B, db))
            u = np.abs(da - db)
            s2 += np.sum((u * CSF) ** 2)
            t = mask / MASK
            um = np.where(u < t, 0.0, u - t)
            um[0, 0] = u[0, 0]
            s1 += np.sum((um * CSF) ** 2)
            n += 64
    return 10 * np.log10(255 ** 2 / (s1 / n)), 10 * np.log10(255 ** 2 / (s2 / n))


def luma(a):
    if a.ndim == 2:
        return a
    return 0.299 * a[:, :, 0] + 0.587 * a[:, :, 1] + 0.114 * a[:, :, 2]


def main():
    os.makedirs(OUT, exist_ok=True)
    pairs = []
    base1 = crop("kodim23.png", (300, 150, 492, 326))  # 192 x 176
    base2 = crop("kodim01.png", (100, 200, 292, 376))
    gray = base2.convert("L")
    pairs.append(("kodim23-jpeg20", base1, jpeg(base1, 20)))
    pairs.append(("kodim01-noise8", base2, noise(base2, 8.0, 1)))
    pairs.append(("gray-jpeg50", gray, jpeg(gray, 50)))
    images = []
    for name, ref, dist in pairs:
        ref.save(os.path.join(OUT, f"{name}-ref.png"))
        dist.save(os.path.join(OUT, f"{name}-dist.png"))
        a = np.asarray(ref, dtype=np.float64)
        b = np.asarray(dist, dtype=np.float64)
        mse = np.mean((a - b) ** 2)
        a3 = a if a.ndim == 3 else a[:, :, None]
        b3 = b if b.ndim == 3 else b[:, :, None]
        ssim = structural_similarity(a3, b3, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255)
        hvsm, hvs = psnr_hvs_m(luma(a), luma(b))
        images.append({
            "name": name,
            "psnr": 10 * np.log10(255 ** 2 / mse),
            "psnr_y": 10 * np.log10(255 ** 2 / np.mean((luma(a) - luma(b)) ** 2)),
            "ssim": float(ssim),
            "ms_ssim": ms_ssim(a3, b3),
            "psnr_hvs": float(hvs),
            "psnr_hvs_m": float(hvsm),
        })
    # Curves: bpp and PSNR at 0.25/0.5/1.0 bpp from ANCHORS.md (measured on Kodak).
    rates = [0.25, 0.5, 1.0]
    curves = {
        "cjpeg": [26.66, 29.61, 32.88],
        "cwebp": [28.64, 31.48, 35.31],
        "openjpeg": [28.87, 31.71, 35.26],
        "hevc": [29.51, 32.82, 36.87],
        "avif": [29.95, 32.96, 36.82],
    }
    bds = []
    for test in ["cwebp", "openjpeg", "hevc", "avif"]:
        for anchor in ["cjpeg", "hevc"]:
            if test == anchor:
                continue
            bds.append({
                "anchor": anchor,
                "test": test,
                "bd_rate": float(bd.bd_rate(rates, curves[anchor], rates, curves[test], method="pchip")),
                "bd_psnr": float(bd.bd_psnr(rates, curves[anchor], rates, curves[test], method="pchip")),
            })
    out = {"images": images, "rates": rates, "curves": curves, "bd": bds}
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
