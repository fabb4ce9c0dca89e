"""The memory allocator the server runs with in its image (the Dockerfile's LD_PRELOAD):
jemalloc, which gives back what streams free where glibc's heap keeps fragments."""

from __future__ import annotations

import ctypes.util

from tests.support.environment import cannot_run
from tests.support.image import image_environment


def image_allocator() -> dict[str, str]:
    """The environment that makes a server process use the image's allocator."""
    preload = image_environment()["LD_PRELOAD"]
    if ctypes.util.find_library("jemalloc") is None:
        cannot_run(f"{preload} is not installed (make malloc-deps installs Debian's libjemalloc2)")
    return {"LD_PRELOAD": preload}
