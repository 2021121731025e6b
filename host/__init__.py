"""RT-LNF host side: the serial link to sensors, the model runtime (router and leaf experts) and serving.

Runs from exported artifacts only: numpy and pyserial, never TensorFlow or `codegen`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rtlnf")
except PackageNotFoundError:  # running from a checkout that was never pip-installed
    __version__ = "0+unknown"
