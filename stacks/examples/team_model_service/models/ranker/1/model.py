"""The search team's ranker (Triton Python backend): score = mean of the 32 features.

A stand-in for the team's real model; it shows the artifact layout the component publishes
(<model>/<version>/model.py next to the rendered <model>/config.pbtxt).
"""

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            features = pb_utils.get_input_tensor_by_name(request, "features").as_numpy()
            score = features.mean(axis=1, keepdims=True).astype(np.float32)
            responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("score", score)]))
        return responses
