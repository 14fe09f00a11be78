"""research/slim's MobileNet library: a generic builder of networks written as data (`mobilenet`), its blocks
(`conv_blocks`) and MobileNet v2 (`mobilenet_v2`)."""
