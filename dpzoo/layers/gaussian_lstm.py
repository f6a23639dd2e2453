"""Gaussian-weight LSTM of Davody et al. 2020 (METHODS.md section 2), plain or layer-normalised.

``GaussianLSTM`` runs an LSTM over a [batch, time, features] sequence. In training, its kernel,
recurrent kernel and bias are sampled as W + N(0, s^2) once per call: one draw for the whole
batch and every time step, as the Gaussian Dense and Conv2D layers draw once per forward pass
(dpzoo.layers.gaussian_weights). With ``layer_norm=True`` the cell is the layer-normalised LSTM of
Ba et al. 2016: LayerNorm (with gain and bias) on the input and recurrent projections and on the cell
state. The step math lives in ``GaussianLSTMCell`` (a stateless object, so a sequence draws its
weights once); the layer owns the weights.

``run`` takes the weights as arguments (shared, or one copy per example) and ``last_weights``
holds the latest call's draw: ghost clipping's norm function for this layer re-runs it with a
copy of that draw per example (dpzoo.privacy.clipping.norms.gaussian_lstm).
"""

import tensorflow as tf

from dpzoo.common.stack import keras
from dpzoo.layers.gaussian_weights import GaussianWeights

GATES = 4  # input, forget, candidate, output


def _matmul(x: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    """x [batch, d] times w [d, k], or per example w [batch, d, k]."""
    return tf.matmul(x, w) if w.shape.rank == 2 else tf.einsum("bd,bdk->bk", x, w)


def _layer_norm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor, epsilon: float = 1e-3) -> tf.Tensor:
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + epsilon) * gain + bias


class GaussianLSTMCell:
    """One LSTM step from given (possibly sampled, possibly per-example) weights."""

    def __init__(self, units: int, layer_norm: bool = False) -> None:
        self.units = units
        self.layer_norm = layer_norm

    def weight_shapes(self, features: int) -> dict[str, tuple[int, ...]]:
        """Name -> shape of the cell's weights, in the layer's order."""
        u = self.units
        shapes = {"kernel": (features, GATES * u), "recurrent_kernel": (u, GATES * u), "bias": (GATES * u,)}
        if self.layer_norm:
            shapes |= {"input_gain": (GATES * u,), "recurrent_gain": (GATES * u,), "cell_gain": (u,), "cell_bias": (u,)}
        return shapes

    def step(self, x: tf.Tensor, h: tf.Tensor, c: tf.Tensor, w: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        """(h_t, c_t) from x_t [batch, features] and the previous state."""
        projected_x, projected_h = _matmul(x, w["kernel"]), _matmul(h, w["recurrent_kernel"])
        if self.layer_norm:
            zeros = tf.zeros_like(w["bias"])
            gates = _layer_norm(projected_x, w["input_gain"], zeros) + _layer_norm(
                projected_h, w["recurrent_gain"], zeros
            )
        else:
            gates = projected_x + projected_h
        i, f, g, o = tf.split(gates + w["bias"], GATES, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        cell = _layer_norm(c, w["cell_gain"], w["cell_bias"]) if self.layer_norm else c
        return tf.sigmoid(o) * tf.tanh(cell), c


@keras.utils.register_keras_serializable(package="dpzoo")
class GaussianLSTM(GaussianWeights, keras.layers.Layer):
    """LSTM over a fixed-length sequence whose weights are sampled once per training call.

    ``return_sequences``: all hidden states [batch, time, units] or the last [batch, units];
    ``go_backwards``: read the sequence from its end (the backward half of a BiLSTM);
    ``layer_norm``: the layer-normalised cell; ``seed`` / ``inference_noise`` as GaussianDense.
    """

    def __init__(
        self,
        units: int,
        *,
        layer_norm: bool = False,
        return_sequences: bool = False,
        go_backwards: bool = False,
        seed: int | None = None,
        inference_noise: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.layer_norm = layer_norm
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.cell = GaussianLSTMCell(units, layer_norm)
        self.last_weights: list[tf.Tensor] | None = None  # the draw of the latest call (for ghost norms)
        self._init_noise(seed, inference_noise)

    def build(self, input_shape) -> None:
        if input_shape[1] is None:
            raise ValueError(f"GaussianLSTM {self.name}: needs a fixed sequence length; got input shape {input_shape}.")
        initializers = {"recurrent_kernel": "orthogonal", "bias": "zeros", "cell_bias": "zeros"}
        for name, shape in self.cell.weight_shapes(input_shape[-1]).items():
            initializer = initializers.get(name, "ones" if name.endswith("gain") else "glorot_uniform")
            setattr(self, name, self.add_weight(name=name, shape=shape, initializer=initializer))
        self._build_noise()
        super().build(input_shape)

    @property
    def cell_weights(self) -> list[tf.Variable]:
        return [getattr(self, name) for name in self.cell.weight_shapes(0)]

    def run(self, inputs: tf.Tensor, weights: list[tf.Tensor]) -> tf.Tensor:
        """The LSTM over ``inputs`` with the given weights (shared, or one copy per example), as
        one ``tf.scan`` over time (a graph of one step, whatever the length)."""
        w = dict(zip(self.cell.weight_shapes(0), weights, strict=True))
        zeros = tf.zeros([tf.shape(inputs)[0], self.units], inputs.dtype)
        steps = tf.transpose(inputs, [1, 0, 2])  # time first
        if self.go_backwards:
            steps = tf.reverse(steps, [0])
        hidden, _ = tf.scan(lambda state, x: self.cell.step(x, *state, w), steps, initializer=(zeros, zeros))
        return tf.transpose(hidden, [1, 0, 2]) if self.return_sequences else hidden[-1]

    def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
        self.last_weights = [self.noisy(v, training) for v in self.cell_weights]
        return self.run(tf.cast(inputs, self.compute_dtype), self.last_weights)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "layer_norm": self.layer_norm,
            "return_sequences": self.return_sequences,
            "go_backwards": self.go_backwards,
            **self._noise_config(),
        }
