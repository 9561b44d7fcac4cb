"""The one exception type of the data package."""


class FashionMNISTError(RuntimeError):
    """A Fashion-MNIST file is missing, corrupt or unexpected; the message names the file."""
