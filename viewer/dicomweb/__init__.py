"""DICOMweb under /dicomweb/: STOW-RS, QIDO-RS and WADO-RS."""
