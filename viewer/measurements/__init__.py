"""Measurements on images: the pure geometry and the services that save them."""
