#!/usr/bin/env python3
"""Builds a tiny YOLO-style ONNX model with the onnx package, for the detector worker tests.

    python3 bright_square_model.py OUT.onnx [--frames DIR]

Input "images" [1, 3, 64, 64]; output [1, 4 + 2, 128] in the layout workers/onnx_detect.py
reads (box centre x, centre y, width, height in input pixels, then two class scores).
The 64 x 64 input is cut into an 8 x 8 grid of 8-pixel cells. A Conv with 8 x 8 kernels and
stride 8 takes each cell's mean brightness m; class 0 scores sigmoid(20 (m - 0.5)), near 1 for
a bright cell and near 0 for a dark one (the grey letterbox padding scores 0.26). Class 1
scores a constant 0.05. Candidates 0-63 are the cells' own boxes; candidates 64-127 repeat
them 10 x 10 pixels wide at 0.9 of the score, so only non-maximum suppression keeps a bright
cell to one box.

With --frames DIR it also writes DIR/good-0.jpg, a dark 640 x 480 frame, and DIR/crack-0.jpg,
the same with a bright square at x 240-400, y 160-320 (2 x 2 cells once letterboxed), for
Tests/Fixtures/rtsp/rtsp_server.py --frames DIR (needs Pillow).
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--frames")
args = parser.parse_args()
cells = 8
cell = 8
n = cells * cells

centres = np.array([(c * cell + cell / 2, r * cell + cell / 2) for r in range(cells) for c in range(cells)], dtype=np.float32)
own = np.stack([centres[:, 0], centres[:, 1], np.full(n, 8, np.float32), np.full(n, 8, np.float32)])
wide = np.stack([centres[:, 0], centres[:, 1], np.full(n, 10, np.float32), np.full(n, 10, np.float32)])
boxes = np.concatenate([own, wide], axis=1)[None]  # [1, 4, 128]

inits = [
    numpy_helper.from_array(np.full((1, 3, cell, cell), 1.0 / (3 * cell * cell), np.float32), "mean_w"),
    numpy_helper.from_array(np.array([-0.5], np.float32), "mean_b"),
    numpy_helper.from_array(np.array(20.0, np.float32), "gain"),
    numpy_helper.from_array(np.array([1, 1, n], np.int64), "flat"),
    numpy_helper.from_array(np.array(0.9, np.float32), "second"),
    numpy_helper.from_array(boxes.astype(np.float32), "boxes"),
    numpy_helper.from_array(np.full((1, 1, 2 * n), 0.05, np.float32), "other_class"),
]
nodes = [
    helper.make_node("Conv", ["images", "mean_w", "mean_b"], ["centred"], kernel_shape=[cell, cell], strides=[cell, cell]),
    helper.make_node("Mul", ["centred", "gain"], ["scaled"]),
    helper.make_node("Sigmoid", ["scaled"], ["cell_score"]),
    helper.make_node("Reshape", ["cell_score", "flat"], ["own_score"]),
    helper.make_node("Mul", ["own_score", "second"], ["wide_score"]),
    helper.make_node("Concat", ["own_score", "wide_score"], ["class0"], axis=2),
    helper.make_node("Concat", ["boxes", "class0", "other_class"], ["output0"], axis=1),
]
graph = helper.make_graph(nodes, "bright_square", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
                          [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, 2 * n])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="millwright-tests")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, args.out)

if args.frames:
    import os
    from PIL import Image, ImageDraw
    os.makedirs(args.frames, exist_ok=True)
    dark = Image.new("RGB", (640, 480), (10, 10, 10))
    dark.save(os.path.join(args.frames, "good-0.jpg"), quality=90)
    ImageDraw.Draw(dark).rectangle([240, 160, 399, 319], fill=(250, 250, 250))
    dark.save(os.path.join(args.frames, "crack-0.jpg"), quality=90)
