"""wandb's integrations that live inside wandb itself (`wandb.integration.*`): scikit-learn's plots,
TensorBoard, Keras callbacks. Each subpackage imports its library lazily; the shim's `wandb.sklearn`,
`wandb.tensorboard` and `wandb.integration.*` forward here."""
