"""Execution venues: the embedded paper venue, the Live Engine and Alpaca paper, behind one interface."""
