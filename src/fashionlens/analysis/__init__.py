"""Evaluation and reports: retrieval, segmentation and COCO metrics, attribute reports, trends, export."""
