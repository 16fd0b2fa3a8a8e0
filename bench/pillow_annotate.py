#!/usr/bin/env python3
"""Pillow baseline for Millwright's evidence annotation (annotate_ms_1080p).

Does the same work as Evidence's annotate path (EvidenceBench.annotate1080p) on a
1920x1080 JPEG: decode, draw the box (coloured stroke with dark halo), the label tag with
text, a 6x nearest-neighbour inset of the defect with border, brackets and connector, a
banner strip under the frame with two lines of text, and encode JPEG at quality 85 (4:2:0).

Usage: python3 bench/pillow_annotate.py [--input frame.jpg] [--iterations N]
Prints one JSON object: {"pillow_annotate_ms_1080p": <median ms>, ...}
Requires Pillow (pip install pillow).
"""
import argparse
import io
import json
import random
import statistics
import sys
import time

try:
    from PIL import Image, ImageDraw, ImageFont
    import PIL
except ImportError:
    sys.exit("Pillow is required: python3 -m pip install pillow")

BOX = (412, 520, 60, 14)          # same as EvidenceBench.sampleBox
ORANGE = (255, 120, 0)            # SeverityPalette.high (severity 78)
BANNER_BG = (24, 26, 30)
THICK = 5                         # our stroke thickness at 1080p
TEXT_PX = 36                      # ~ our 9-row cell at scale 4
INSET_K = 6


def synthetic_jpeg():
    """A 1080p frame with gradients and noise (used when no --input is given)."""
    rnd = random.Random(1080)
    w, h = 1920, 1080
    base = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    noise = Image.effect_noise((w, h), 24).convert("RGB")
    im = Image.blend(base, noise, 0.35)
    d = ImageDraw.Draw(im)
    d.rectangle((0, 440, 1920, 760), fill=(45, 45, 47))
    x, y = BOX[0], BOX[1] + BOX[3] // 2
    for i in range(BOX[2]):
        y += rnd.choice((-1, 0, 1))
        d.point((x + i, y), fill=(12, 11, 10))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def load_font():
    try:
        return ImageFont.load_default(size=TEXT_PX)
    except TypeError:  # very old Pillow without FreeType default
        return ImageFont.load_default()


def annotate(jpeg_bytes, font):
    im = Image.open(io.BytesIO(jpeg_bytes))
    im.load()
    im = im.convert("RGB")
    w, h = im.size
    bx, by, bw, bh = BOX
    # Inset source first (from the clean frame).
    cw, ch = max(int(bw * 1.6), bw + 24, 40), None
    ch = max(int(bh * 1.6), bh + 24, int(cw * 0.5625))
    cx, cy = bx + bw // 2, by + bh // 2
    crop = im.crop((cx - cw // 2, cy - ch // 2, cx - cw // 2 + cw, cy - ch // 2 + ch))
    inset = crop.resize((cw * INSET_K, ch * INSET_K), Image.NEAREST)

    banner_h = 106
    canvas = Image.new("RGB", (w, h + banner_h), BANNER_BG)
    canvas.paste(im, (0, 0))
    d = ImageDraw.Draw(canvas)
    g = 2 + THICK
    outer = (bx - g, by - g, bx + bw + g - 1, by + bh + g - 1)
    d.rectangle((outer[0] - 1, outer[1] - 1, outer[2] + 1, outer[3] + 1), outline=(0, 0, 0), width=THICK + 2)
    d.rectangle(outer, outline=ORANGE, width=THICK)
    # Inset with connector, border and brackets.
    ix, iy = w - inset.width - 20, 20
    d.line((outer[2], outer[1], ix, iy + inset.height), fill=(0, 0, 0), width=5)
    d.line((outer[2], outer[1], ix, iy + inset.height), fill=ORANGE, width=3)
    d.rectangle((ix - 6, iy - 6, ix + inset.width + 5, iy + inset.height + 5), fill=(0, 0, 0))
    d.rectangle((ix - 5, iy - 5, ix + inset.width + 4, iy + inset.height + 4), outline=ORANGE, width=THICK)
    canvas.paste(inset, (ix, iy))
    dx, dy = ix + (bx - (cx - cw // 2)) * INSET_K, iy + (by - (cy - ch // 2)) * INSET_K
    for (x0, y0, x1, y1) in ((dx - 8, dy - 8, dx + 30, dy - 4), (dx - 8, dy - 8, dx - 4, dy + 30),
                             (dx + bw * INSET_K - 22, dy + bh * INSET_K + 4, dx + bw * INSET_K + 8, dy + bh * INSET_K + 8)):
        d.rectangle((x0, y0, x1, y1), fill=ORANGE)
    # Tags.
    for (tx, ty, text) in ((outer[0], outer[1] - 44, "crack 93% CAM-07-1732155240123-0"), (ix, iy, "6x ZOOM crack")):
        l, t, r, b = d.textbbox((tx + 6, ty + 6), text, font=font)
        d.rectangle((tx, ty, r + 6, ty + 44), fill=ORANGE)
        d.text((tx + 6, ty + 4), text, fill=(0, 0, 0), font=font)
    # Banner.
    d.rectangle((0, h, w, h + 2), fill=ORANGE)
    d.rectangle((0, h, 200, h + banner_h), fill=ORANGE)
    d.text((6, h + 8), "SEV 78", fill=(0, 0, 0), font=font)
    d.text((6, h + 56), "HIGH", fill=(0, 0, 0), font=font)
    d.text((220, h + 8), "CAM-07  |  Asset 10004712 Head pulley, conveyor 2", fill=(255, 255, 255), font=font)
    d.text((220, h + 56), "2026-11-21 02:14:00 UTC  |  plant time 03:14:00 +01:00 Europe/Berlin", fill=(200, 204, 212), font=font)
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=85, subsampling="4:2:0")
    return out.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", help="1920x1080 JPEG to annotate (default: generated)")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--output", help="write the last annotated JPEG here")
    args = ap.parse_args()
    data = open(args.input, "rb").read() if args.input else synthetic_jpeg()
    font = load_font()
    out = annotate(data, font)  # warm-up
    times = []
    for _ in range(max(1, args.iterations)):
        t0 = time.perf_counter()
        out = annotate(data, font)
        times.append((time.perf_counter() - t0) * 1000)
    if args.output:
        open(args.output, "wb").write(out)
    print(json.dumps({"pillow_annotate_ms_1080p": round(statistics.median(times), 3),
                      "iterations": len(times), "pillow": PIL.__version__,
                      "input_bytes": len(data), "output_bytes": len(out)}))


if __name__ == "__main__":
    main()
