"""The embedding model and its engines: ONNX graph writer, ONNX Runtime and numpy passes."""
