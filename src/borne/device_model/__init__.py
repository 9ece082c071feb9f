"""The 2.0.1 device model and the 1.6 configuration snapshot of each station."""
