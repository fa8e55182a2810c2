#!/usr/bin/env python3
"""Makes models/face_landmark.onnx from MediaPipe's face mesh landmark model
as shipped in the PyPI wheel mediapipe 0.10.14, and the golden outputs that
check tract against TensorFlow Lite's own interpreter
(tests/fixtures/golden/face_landmark.json, crates/invigil-vision/tests/pose.rs).

    python3 -m venv V && V/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.16.2 pillow numpy
    pip download --no-deps mediapipe==0.10.14 --python-version 3.11 --only-binary :all: \
        --platform manylinux_2_17_x86_64
    V/bin/python models/make_face_landmark.py mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl

(onnx 1.17 and later do not import beside TensorFlow 2.15's ml_dtypes.)
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import onnx
import tensorflow as tf
from PIL import Image

WHEEL_SHA256 = "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4"
TFLITE_PATH = "mediapipe/modules/face_landmark/face_landmark.tflite"
TFLITE_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "..")
golden = os.path.join(root, "tests", "fixtures", "golden")
images = os.path.join(root, "tests", "fixtures", "images")
# (image, crop box x0, y0, x1, y1): a face filling the crop as MediaPipe's
# region of interest does (1.5 times the detector's box), and one with no
# face at all.
CROPS = [
    ("obama.jpg", (160, 40, 480, 480)),
    ("astronaut.png", (140, 0, 400, 260)),
    ("coffee.png", (0, 0, 400, 400)),
]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def main(wheel):
    data = open(wheel, "rb").read()
    if sha256(data) != WHEEL_SHA256:
        sys.exit(f"{wheel} is not the mediapipe 0.10.14 wheel this script was made for")
    tflite = zipfile.ZipFile(wheel).read(TFLITE_PATH)
    assert sha256(tflite) == TFLITE_SHA256
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "face_landmark.tflite")
        open(src, "wb").write(tflite)
        out = os.path.join(here, "face_landmark.onnx")
        subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--tflite", src, "--output", out, "--opset", "13"],
            check=True,
        )
        # tf2onnx writes the temporary path into the model's doc string.
        # (It also names some constants in a different order from run to
        # run: a rerun may differ in bytes, not in what it computes.)
        model = onnx.load(out)
        model.doc_string = "converted by tf2onnx 1.17.0 from " + TFLITE_PATH + " (mediapipe 0.10.14)"
        onnx.save(model, out)
        print("face_landmark.onnx", sha256(open(out, "rb").read()))
        interpreter = tf.lite.Interpreter(model_path=src)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    outs = {o["name"]: o["index"] for o in interpreter.get_output_details()}
    result = {}
    for name, box in CROPS:
        crop = Image.open(os.path.join(images, name)).convert("RGB").crop(box).resize((192, 192), Image.BILINEAR)
        input_name = f"{name}.landmark.input.png"
        crop.save(os.path.join(golden, input_name))
        x = np.asarray(crop, np.float32)[None] / 255.0
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        points = interpreter.get_tensor(outs["conv2d_21"]).reshape(-1)
        logit = interpreter.get_tensor(outs["conv2d_31"]).reshape(-1)[0]
        result[input_name] = {
            "face_logit": round(float(logit), 5),
            "landmarks": [round(float(v), 4) for v in points],
        }
    with open(os.path.join(golden, "face_landmark.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
