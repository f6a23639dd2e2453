"""Tramer & Boneh 2021 ScatterNet configs, and ModelMix's Fashion-MNIST table on them."""
