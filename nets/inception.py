"""The Inception networks of this package, as research/slim's `nets.inception` exposes them."""

from nets.inception_v3 import inception_v3
from nets.inception_v3 import inception_v3_arg_scope
from nets.inception_v3 import inception_v3_base

__all__ = ['inception_v3', 'inception_v3_arg_scope', 'inception_v3_base']
