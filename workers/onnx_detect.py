#!/usr/bin/env python3
"""Millwright's reference detector worker: a YOLO-style ONNX model run with ONNX Runtime.

The gateway starts it for a capture camera with

    detector: { kind: onnx, model: line3.onnx, input: 640, labels: [crack, corrosion] }

(the copy `swift build` puts next to the binary), or, this file or one of its own, with

    detector: { kind: command, run: "python3 workers/onnx_detect.py --model line3.onnx --input 640", labels: [crack, corrosion] }

and speaks JSON lines with it (docs/capture.md, "Bring your own model"): it says ready once
the model is loaded, then answers each frame line on stdin with one line on stdout.

The model: one input, a float32 image [1, 3, S, S] (RGB, 0-1, S = --input), and one output
[1, 4 + C, N] as Ultralytics YOLOv8/YOLO11 exports it (`yolo export format=onnx`): for each of
N candidates the box centre x, centre y, width and height in input pixels, then C class scores.

Per frame: decode the JPEG (Pillow), letterbox it to S x S (scaled to fit, centred, padded with
grey 114), run the model, keep candidates whose best class score reaches --threshold, drop
overlapping boxes of the same class (non-maximum suppression at --iou), and answer with the
boxes in the frame's pixels. Classes are answered as numbers, which the gateway names through
its `labels:`, or as names with --labels.

Needs: onnxruntime, numpy, Pillow (pip install onnxruntime pillow).
"""
import argparse
import base64
import io
import json
import os
import sys


def letterbox(image, size):
    """The image scaled to fit size x size, centred on grey; returns the array and the mapping back."""
    import numpy as np
    from PIL import Image
    w, h = image.size
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = image.resize((nw, nh), Image.BILINEAR)
    canvas = Image.new("RGB", (size, size), (114, 114, 114))
    pad_x, pad_y = (size - nw) // 2, (size - nh) // 2
    canvas.paste(resized, (pad_x, pad_y))
    tensor = np.asarray(canvas, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(tensor), scale, pad_x, pad_y


def nms(boxes, scores, iou):
    """Indices kept by greedy non-maximum suppression; boxes are [x1, y1, x2, y2]."""
    import numpy as np
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        union = area(boxes[i]) + area(boxes[rest]) - inter
        overlap = np.where(union > 0, inter / np.maximum(union, 1e-9), 0)
        order = rest[overlap <= iou]
    return keep


def detect(session, input_name, image, args):
    import numpy as np
    tensor, scale, pad_x, pad_y = letterbox(image, args.input)
    out = session.run(None, {input_name: tensor})[0]
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[1] < 5:
        raise ValueError(f"model output has shape {list(out.shape)}; expected [1, 4 + classes, candidates]")
    if out.shape[1] > out.shape[2]:
        # More rows than candidates: the transposed layout (YOLOv5's [1, N, 5 + C]), not read.
        raise ValueError(f"model output has shape {list(out.shape)}, candidates first; this worker reads [1, 4 + classes, candidates]")
    pred = out[0].T  # [N, 4 + C]
    scores = pred[:, 4:]
    classes = scores.argmax(axis=1)
    best = scores[np.arange(len(pred)), classes]
    mask = best >= args.threshold
    pred, classes, best = pred[mask], classes[mask], best[mask]
    cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    found = []
    for c in np.unique(classes):
        idx = np.nonzero(classes == c)[0]
        for k in nms(boxes[idx], best[idx], args.iou):
            i = idx[k]
            found.append((int(c), float(best[i]), boxes[i]))
    found.sort(key=lambda f: -f[1])
    w, h = image.size
    detections = []
    for c, score, (x1, y1, x2, y2) in found[: args.max_detections]:
        # From letterboxed input pixels back to the frame's.
        fx1 = min(max(float(x1 - pad_x) / scale, 0.0), w)
        fy1 = min(max(float(y1 - pad_y) / scale, 0.0), h)
        fx2 = min(max(float(x2 - pad_x) / scale, 0.0), w)
        fy2 = min(max(float(y2 - pad_y) / scale, 0.0), h)
        if fx2 <= fx1 or fy2 <= fy1:
            continue
        label = args.labels[c] if args.labels and c < len(args.labels) else c
        detections.append({"class": label, "confidence": round(score, 4),
                           "box": [round(fx1, 1), round(fy1, 1), round(fx2 - fx1, 1), round(fy2 - fy1, 1)]})
    return detections


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="the .onnx file")
    p.add_argument("--input", type=int, default=640, help="the model's square input size in pixels (640)")
    p.add_argument("--threshold", type=float, default=0.25, help="lowest class score kept (0.25)")
    p.add_argument("--iou", type=float, default=0.45, help="overlap above which a weaker box of the same class is dropped (0.45)")
    p.add_argument("--labels", type=lambda s: [x for x in s.split(",") if x], default=None,
                   help="class names, comma separated, answered instead of class numbers")
    p.add_argument("--max-detections", type=int, default=100, help="boxes per frame at most (100)")
    p.add_argument("--name", help="model name the detections carry (the model file's name)")
    p.add_argument("--version", help="model version the detections carry (1)")
    args = p.parse_args()
    if not 32 <= args.input <= 4096:
        p.error("--input must be 32 to 4096")
    if not os.path.isfile(args.model):
        p.error(f"model file {args.model} not found")

    from PIL import Image
    import onnxruntime

    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    name = args.name or os.path.splitext(os.path.basename(args.model))[0]
    version = args.version or "1"
    out = sys.stdout
    out.write(json.dumps({"ready": True, "model": {"name": name[:100], "version": version[:100]}}) + "\n")
    out.flush()

    for line in sys.stdin:
        if not line.strip():
            continue
        frame_id = None
        try:
            request = json.loads(line)
            frame_id = request["id"]
            image = Image.open(io.BytesIO(base64.b64decode(request["jpeg_b64"], validate=True)))
            image = image.convert("RGB")
            answer = {"id": frame_id, "detections": detect(session, input_name, image, args)}
        except Exception as e:  # one bad frame is answered as such; the worker carries on
            if frame_id is None:
                print(f"unreadable request: {e}", file=sys.stderr, flush=True)
                continue
            answer = {"id": frame_id, "error": f"{type(e).__name__}: {e}"[:400]}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
