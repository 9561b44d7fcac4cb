"""The verification harness: proves the converter's Keras -> PyTorch port computes the same network.

Modules: ``port`` (a port: PyTorch network + mapping) and ``broken`` (wrong ones),
``states`` (fresh, random, trained weights), ``data`` (the real images the checks
use), ``keras_runner`` / ``torch_runner`` (running each framework the way the
checks compare it), ``checks`` (one module per check, one registry), ``suite``
(which checks run on what), ``report`` (table, JSON, plot) and ``cli``
(``sepconv-parity``). It uses :mod:`parity.converter`; never the other way round.
"""

from sepconv.compat import guard_triton

guard_triton()
