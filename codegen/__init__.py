"""RT-LNF codegen: train the model (TensorFlow/Keras), quantize the encoder, emit firmware sources.

Layers: `training/` (data, model, training loop), later `quantize/` and `emit/`.
The only place in the project that imports TensorFlow.
"""
