"""fastdnn asv benchmark suite (see ../README.md)."""
