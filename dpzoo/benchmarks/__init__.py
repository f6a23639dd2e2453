"""dpzoo.benchmarks: what dpzoo-bench measures, side by side in one process, never in a timed test.

``throughput``: private against non-private training steps (examples/s, memory) and TF Privacy's
Keras peers; ``scale``: a logical step by physical batch size and tf.distribute strategy;
``inputs``: the training input pipeline beside the step it feeds; ``keras_comparison``: the
throughput benchmark on tf-keras and Keras 3 in alternating processes.
"""
