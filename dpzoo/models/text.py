"""The BiLSTM text classifiers of Davody et al. 2020 (SIDP): token ids -> word vectors -> a
forward and a backward LSTM (hidden 32) -> their last states -> logits; the LN-BiLSTM uses
layer-normalised LSTM cells and a LayerNorm on the logits.

Both LSTMs and the head are Gaussian weight layers: with weight noise 0 (``--method=dpsgd``)
they are plain layers. The paper's word vectors are frozen pre-trained 100-d vectors; offline
there are none, so the frozen table is random (data-independent, so it costs no privacy), or
trainable with ``trainable_embedding=True``.
"""

import itertools

from dpzoo.common.stack import keras
from dpzoo.layers import GaussianDense, GaussianLSTM
from dpzoo.models.registry import register

TEXT_MODELS = ("bilstm", "ln_bilstm")


@register
def bilstm(
    input_shape: tuple[int, ...] = (16,),
    num_classes: int = 6,
    vocabulary: int = 8192,
    embedding_dim: int = 100,
    hidden: int = 32,
    layer_norm: bool = False,
    trainable_embedding: bool = False,
    noise_seed: int = 0,
    name: str = "bilstm",
) -> keras.Model:
    """BiLSTM over ``input_shape = (length,)`` token ids in [0, vocabulary)."""
    if len(input_shape) != 1:
        raise ValueError(f"Expected input_shape=(length,) of token ids; got {input_shape}.")
    seeds = itertools.count(noise_seed)
    tokens = keras.Input(shape=input_shape, dtype="int32", name="tokens")
    vectors = keras.layers.Embedding(
        vocabulary, embedding_dim, trainable=trainable_embedding, name=f"{name}_embedding"
    )(tokens)
    states = [
        GaussianLSTM(hidden, layer_norm=layer_norm, go_backwards=backwards, seed=next(seeds), name=f"{name}_{way}")(
            vectors
        )
        for way, backwards in (("forward", False), ("backward", True))
    ]
    x = keras.layers.Concatenate(name=f"{name}_states")(states)
    logits = GaussianDense(num_classes, seed=next(seeds), name=f"{name}_logits")(x)
    if layer_norm:
        logits = keras.layers.LayerNormalization(name=f"{name}_logits_norm")(logits)
    return keras.Model(tokens, logits, name=name)


@register
def ln_bilstm(**kwargs) -> keras.Model:
    """The LN-BiLSTM of Davody et al. 2020: layer-normalised LSTM cells, LayerNorm on the logits."""
    kwargs = {"name": "ln_bilstm", **kwargs}
    return bilstm(layer_norm=True, **kwargs)
