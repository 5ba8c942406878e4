"""Every way images come in: the header reader, the ingest services (browser upload, zips,
STOW-RS, C-STORE and photos all call instance_ingest), the unmatched queue, conflicts and
orphans."""
