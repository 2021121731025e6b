"""Importing TensorFlow without its start-up chatter.

TensorFlow and its converter print C++ log lines (oneDNN notices, absl warnings) and saved-model
signatures straight to file descriptors 1 and 2, before TF_CPP_MIN_LOG_LEVEL takes effect; a
training or export run should show its own progress, not that.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_fds():
    """Sends fds 1 and 2 to /dev/null for the duration (Python exceptions still propagate)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "w") as devnull:
        try:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def import_tensorflow():
    """Returns (keras, tensorflow), imported quietly."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_fds():
        import keras
        import tensorflow as tf
    return keras, tf
