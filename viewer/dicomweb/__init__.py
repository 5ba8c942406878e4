"""DICOMweb: STOW-RS, QIDO-RS and WADO-RS under /dicomweb/.

Callers are a signed-in user (session) or a hospital system (Authorization: Bearer). Both
go through the same selectors as the pages; what a caller may not see answers 404 with a
denied audit row, and every answer about a child writes a view audit row naming the child.
"""
