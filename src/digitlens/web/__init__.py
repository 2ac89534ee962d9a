"""The live explorer: a local web page that shows the network think as you draw."""
