"""What every layer of dpzoo shares: the usage-error types, the config validators, and the learning
rate an optimizer's next update will use."""
