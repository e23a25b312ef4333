"""Label file formats and label math: .flo IO, flow colour wheel, analytic flow reference."""
