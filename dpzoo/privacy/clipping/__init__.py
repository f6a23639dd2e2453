"""dpzoo.privacy.clipping: each example's gradient clipped to C and summed, two ways that give the
same result: ``vectorized`` materialises the per-example gradients in one vectorised backward
pass; ``ghost`` gets each example's norm from layer inputs and output gradients (``norms``, the
layer registry) and never differentiates the network per example."""
