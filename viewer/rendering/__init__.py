"""Pixels for the viewer: the pure renderer, its cache, the queue that fills it, the
rendered and thumbnail views and the signed frame links."""
