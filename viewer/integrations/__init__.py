"""Hospital systems: bearer integration tokens, DICOM nodes and the C-STORE listener."""
