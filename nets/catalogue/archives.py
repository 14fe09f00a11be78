"""Where the published checkpoints are, and their sizes and checksums where public records have them."""

from typing import Optional

from nets.catalogue.spec import Archive

TF_MODELS = 'https://download.tensorflow.org/models/'


# Sizes and checksums of the published archives, by file name, as public download manifests record them
# (OpenVINO's Open Model Zoo `model.yml` files; Yocto recipes' SRC_URI checksums, which agree with them where both
# list a file). tensorflow.org publishes none itself; archives missing here are checked by Content-Length and by
# their variables only.
PUBLISHED_FILES = {
    'inception_v1_2016_08_28.tar.gz': (
        24642554, 'sha256:7a620c430fcaba8f8f716241f5148c4c47c035cce4e49ef02cfbe6cd1adf96a6'),
    'inception_v2_2016_08_28.tar.gz': (
        41577079, 'sha384:c0b2efbae8fc5e237ae67637dca3f311d4b4f7da576b56067e83d95c398a2fcc'
                  'd50baff9cc0de64335f4d7b78e1adb07'),
    'mobilenet_v1_1.0_224.tgz': (
        94321559, 'sha256:2fadeabb9968ec6833bee903900dda6e61b3947200535874ce2fe42a8493abc0'),
    'mobilenet_v1_0.5_224.tgz': (
        29969407, 'sha256:98cf7a39552f73920cb99617cfa9b88d5732a87abf9ec14f7cc7f3ade1db0aaa'),
    'mobilenet_v2_1.0_224.tgz': (
        78306834, 'sha256:318084bc1b63d6d7b854553e09cdf77078b1c0168be27c59a0d44253b5ed49dc'),
    'mobilenet_v2_1.4_224.tgz': (
        135977516, 'sha256:a20d0c8d698502dc6a620528871c97a588885df7737556243a3412b39fce85e0'),
    'mobilenet_v2_0.35_224.tgz': (
        None, 'sha256:efcc34277c52f7dd4b0b26c2f52686793f4ea5fdddc899ac5aac9eb8d5861550'),
}


def archive(url: str, checkpoint: str, num_classes: Optional[int]) -> Archive:
  """The archive at `url`, with its size and checksum where `PUBLISHED_FILES` knows them."""
  size, digest = PUBLISHED_FILES.get(url.rsplit('/', 1)[-1], (None, None))
  return Archive(url, checkpoint, num_classes, size, digest)
