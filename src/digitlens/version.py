"""The package's version, apart from ``digitlens/__init__.py`` so that modules which write it
into files (JSON, ONNX, the single file, the report's stamp) need not import the package root,
whose lazy names reach the notebook API above them."""

__version__ = "0.1.0"
