"""NASNet-A and PNASNet (research/slim's nets/nasnet): `nasnet`, `pnasnet`, and the cells in `nasnet_utils`."""
