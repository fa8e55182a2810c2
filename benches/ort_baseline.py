#!/usr/bin/env python3
"""Python + onnxruntime baseline for docs/performance.md.

    pip install onnxruntime==1.32.0 numpy pillow
    invigil qa render tests/scenarios/leaves_and_returns.toml --y4m /tmp/v.y4m  # (fps edited to 30)
    python3 benches/ort_baseline.py models/face_detection_front_128x128_barracuda.onnx /tmp/v.y4m
    python3 benches/ort_baseline.py MODEL FOLDER_OF_JPEGS FPS   # the JPEG-folder variant

`benches/vs_onnxruntime.sh` runs both loops and `invigil watch` on the same
frames at 10 and 30 fps (issue 18, goal 1).

Prints (1) onnxruntime's single-threaded time per inference on one input,
and (2) the CPU time of a straightforward Python loop over the video: read
Y4M (or decode the folder's JPEGs with Pillow), convert to RGB, letterbox, infer, decode, and the presence rule
(warn 2 s, flag 5 s, return 1 s) with the events it raises, so they can be
compared with `invigil watch` on the same file.
"""
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

import os

model_path, video = sys.argv[1], sys.argv[2]
folder_fps = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
opts.inter_op_num_threads = 1
opts.log_severity_level = 3
sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
size = sess.get_inputs()[0].shape[1]

x = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
for _ in range(20):
    sess.run(None, {"input:0": x})
n = 500
t0 = time.perf_counter()
for _ in range(n):
    sess.run(None, {"input:0": x})
print(f"onnxruntime {ort.__version__}, 1 thread: {1000 * (time.perf_counter() - t0) / n:.3f} ms per inference ({size}x{size})")

anchors = []
for cells, per in ((16, 2), (8, 6)):
    for y in range(cells):
        for xx in range(cells):
            anchors += [((xx + 0.5) / cells, (y + 0.5) / cells)] * per
anchors = np.array(anchors, dtype=np.float32)


def faces(rgb):
    h, w, _ = rgb.shape
    s = size / max(w, h)
    cw, ch = round(w * s), round(h * s)
    canvas = Image.new("RGB", (size, size))
    canvas.paste(Image.fromarray(rgb).resize((cw, ch), Image.BILINEAR), ((size - cw) // 2, (size - ch) // 2))
    inp = (np.asarray(canvas, dtype=np.float32) / 127.5 - 1.0)[None]
    s16, s8, b16, b8 = sess.run(None, {"input:0": inp})
    logits = np.concatenate([s16.reshape(-1), s8.reshape(-1)])
    boxes = np.concatenate([b16.reshape(-1, 16), b8.reshape(-1, 16)])
    keep = np.nonzero(logits > np.log(0.6 / 0.4))[0]
    out = []
    for i in keep[np.argsort(-logits[keep])]:
        cx, cy = anchors[i] + boxes[i, :2] / size
        bw, bh = boxes[i, 2:4] / size
        if all(abs(cx - o[0]) > (bw + o[2]) / 4 or abs(cy - o[1]) > (bh + o[3]) / 4 for o in out):
            out.append((cx, cy, bw, bh))
    return out


def frames(path):
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.lower().endswith((".jpg", ".jpeg")))
        for i, name in enumerate(names):
            with Image.open(os.path.join(path, name)) as img:
                yield round(i * 1000 / folder_fps), np.asarray(img.convert("RGB"))
        return
    with open(path, "rb") as f:
        header = f.readline().split()
        w = int([t for t in header if t.startswith(b"W")][0][1:])
        h = int([t for t in header if t.startswith(b"H")][0][1:])
        num, den = [int(v) for v in [t for t in header if t.startswith(b"F")][0][1:].split(b":")]
        cw, ch = (w + 1) // 2, (h + 1) // 2
        i = 0
        while f.readline():
            yp = np.frombuffer(f.read(w * h), np.uint8).reshape(h, w).astype(np.float32)
            u = np.frombuffer(f.read(cw * ch), np.uint8).reshape(ch, cw).astype(np.float32)
            v = np.frombuffer(f.read(cw * ch), np.uint8).reshape(ch, cw).astype(np.float32)
            u = u.repeat(2, 0).repeat(2, 1)[:h, :w] - 128
            v = v.repeat(2, 0).repeat(2, 1)[:h, :w] - 128
            c = (yp - 16) * 1.164
            rgb = np.stack([c + 1.596 * v, c - 0.392 * u - 0.813 * v, c + 2.017 * u], -1)
            yield round(i * 1000 * den / num), np.clip(rgb, 0, 255).astype(np.uint8)
            i += 1


cpu0 = time.process_time()
events, since, gap, warned, flagged, last_t = [], None, None, False, False, 0
for t, rgb in frames(video):
    last_t = t
    absent = len(faces(rgb)) == 0
    if absent:
        gap = None
        since = t if since is None else since
        if not warned and t - since >= 2000:
            warned = True
            events.append(("absence_warning", t))
        if not flagged and t - since >= 5000:
            flagged = True
            events.append(("candidate_absent", t))
    elif since is not None:
        gap = t if gap is None else gap
        if t - gap >= (1000 if warned else 300):
            if warned:
                events.append(("candidate_returned", t))
            since, gap, warned, flagged = None, None, False, False
cpu = time.process_time() - cpu0
minutes = (last_t + 1) / 60000
print(f"python loop: {cpu:.2f} s CPU for {last_t / 1000:.1f} s of video = {cpu / minutes:.2f} s CPU per minute of video")
print("events:", ", ".join(f"{k}@{t / 1000:.1f}s" for k, t in events))
