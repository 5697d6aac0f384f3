"""The fault tests run adopting projects like the wiring tests do."""

from tests.wiring.conftest import Shape, shape

__all__ = ["Shape", "shape"]
