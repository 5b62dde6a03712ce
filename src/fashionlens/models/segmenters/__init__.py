"""Segmenters and detectors: U-Net garment parsing, Mask R-CNN instances, HOG people, people from masks."""
