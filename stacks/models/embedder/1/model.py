"""Reference model for the shipped stacks (Triton Python backend): a tiny text-embedding head.

It L2-normalises a batch of 256-wide feature vectors; a stand-in that shows the artifact layout
gpufleet publishes (<model>/<version>/model.py next to the rendered <model>/config.pbtxt).
Replace it with your own model folder (`serving.model_source_dir`).
"""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "FEATURES").as_numpy().astype(np.float32)
            norm = np.linalg.norm(x, axis=1, keepdims=True)
            y = x / np.maximum(norm, 1e-12)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDING", y)]))
        return responses
