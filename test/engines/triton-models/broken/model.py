"""A model that fails to load: initialize() raises, so Triton marks it UNAVAILABLE."""


class TritonPythonModel:
    def initialize(self, args):
        raise RuntimeError("broken test model: initialize() refuses to load")

    def execute(self, requests):
        return None
